"""Guest data sealing, and settings that fail fast in production."""

import pytest

from booking_shared.config import ServiceSettings
from booking_shared.sealed import GuestContact, SealError, seal, unseal


def test_sealed_guest_data_opens_only_with_the_key():
    guest = GuestContact(
        first_name="Ana", last_name="Silva", email="ana@example.com", phone="+351 900 000 000"
    )
    token = seal(guest, "key-1")
    assert "ana@example.com" not in token and "Silva" not in token
    assert unseal(token, "key-1") == guest
    with pytest.raises(SealError):
        unseal(token, "another-key")


def test_production_refuses_dev_secrets():
    with pytest.raises(ValueError, match="DB_PASSWORD"):
        ServiceSettings(environment="production", db_provision=False)
    with pytest.raises(ValueError, match="GUEST_DATA_KEY"):
        ServiceSettings(environment="production", db_provision=False, db_password="x")
    with pytest.raises(ValueError, match="INTERNAL_API_TOKEN"):
        ServiceSettings(
            environment="production", db_provision=False, db_password="x", guest_data_key="k"
        )
    with pytest.raises(ValueError, match="INTERNAL_API_TOKEN"):  # too short to be a credential
        ServiceSettings(
            environment="production",
            db_provision=False,
            db_password="x",
            guest_data_key="k",
            internal_api_token="short",
        )
    ok = ServiceSettings(
        environment="production",
        db_provision=False,
        db_password="x",
        guest_data_key="k",
        internal_api_token="t" * 32,
    )
    assert ok.service_database_url.startswith("postgresql://booking_service:x@")


def test_dev_binds_loopback_only():
    with pytest.raises(ValueError, match="HOST must be a loopback address"):
        ServiceSettings(environment="dev", host="0.0.0.0")
    assert ServiceSettings(environment="dev", host="127.0.0.1").host == "127.0.0.1"
    assert (
        ServiceSettings(environment="test", host="0.0.0.0").host == "0.0.0.0"
    )  # containers in CI may need it


def test_the_credential_is_never_shown_in_settings_dumps():
    s = ServiceSettings(internal_api_token="a-secret-credential-of-32-chars!")
    assert "a-secret-credential" not in repr(s) and "a-secret-credential" not in str(s.model_dump())


def test_the_service_connects_as_its_own_role():
    s = ServiceSettings(
        database_url="postgresql://postgres@db:5432/app", db_schema="payment", db_password="p w"
    )
    assert s.db_role == "booking_payment"
    assert s.service_database_url == "postgresql://booking_payment:p%20w@db:5432/app"


def test_production_refuses_the_chaos_settings():
    prod = {
        "environment": "production",
        "db_provision": False,
        "db_password": "x",
        "guest_data_key": "k",
        "internal_api_token": "t" * 32,
    }
    with pytest.raises(ValueError, match="OUTBOX_PUBLISH_COPIES"):
        ServiceSettings(**prod, outbox_publish_copies=3)
    with pytest.raises(ValueError, match="KILL_POINT"):
        ServiceSettings(**prod, kill_point="payment.after_stripe_call", kill_point_rate=0.1)
    assert ServiceSettings(environment="test", outbox_publish_copies=3).outbox_publish_copies == 3
    assert (
        ServiceSettings().outbox_publish_copies == 1 and ServiceSettings().kill_point == ""
    )  # off by default


def test_an_armed_kill_point_kills_the_process_there_and_only_there():
    import subprocess
    import sys

    script = (
        "from booking_shared import killpoint\n"
        "from booking_shared.config import ServiceSettings\n"
        "killpoint.configure(ServiceSettings(kill_point='a.point', kill_point_rate=1.0))\n"
        "killpoint.reached('another.point')\n"
        "print('passed another point', flush=True)\n"
        "killpoint.reached('a.point')\n"
        "print('still alive')\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert res.returncode == -9, res.stderr
    assert res.stdout == "passed another point\n"
    disarmed = script.replace("kill_point_rate=1.0", "kill_point_rate=0.0")
    res = subprocess.run(
        [sys.executable, "-c", disarmed], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "still alive" in res.stdout, res.stderr
