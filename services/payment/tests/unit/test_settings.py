"""Payment settings: safe dev defaults, and a refusal to start in production without real secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from payment.config import DEV_STRIPE_API_KEY, Settings

PRODUCTION = {
    "environment": "production",
    "db_password": "real-db-password",
    "guest_data_key": "real-guest-key",
    "db_provision": False,
    "internal_api_token": "a-real-internal-credential-of-32-chars",
}


def test_dev_defaults_need_nothing_from_the_environment(monkeypatch):
    for name in (
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "AUTHORIZATION_WINDOW",
    ):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.stripe_api_key == DEV_STRIPE_API_KEY
    assert s.stripe_api_base is None
    assert s.authorization_window == timedelta(days=6, hours=18)
    assert s.stripe_webhook_tolerance_s == 300
    assert (s.commands_topic, s.replies_topic) == ("payment.commands.v1", "payment.replies.v1")


def test_reads_the_environment(monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    monkeypatch.setenv("AUTHORIZATION_WINDOW", "P4DT18H")
    s = Settings()
    assert s.stripe_api_base == "http://127.0.0.1:8420"
    assert s.authorization_window == timedelta(days=4, hours=18)
    monkeypatch.setenv("STRIPE_API_BASE", "")
    assert Settings().stripe_api_base is None


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"stripe_webhook_secret": "whsec_real"}, "STRIPE_API_KEY"),
        ({"stripe_api_key": "sk_live_real"}, "STRIPE_WEBHOOK_SECRET"),
        ({"stripe_api_key": "sk_live_real", "stripe_webhook_secret": ""}, "STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_production_refuses_to_start_without_real_stripe_secrets(overrides, complaint):
    with pytest.raises(ValidationError, match=complaint):
        Settings(**PRODUCTION, **overrides)


def test_production_starts_with_real_secrets():
    s = Settings(**PRODUCTION, stripe_api_key="sk_live_real", stripe_webhook_secret="whsec_real")
    assert s.environment == "production"


@pytest.mark.parametrize("window", [timedelta(0), timedelta(days=7, seconds=1)])
def test_the_fallback_authorization_window_must_stay_within_stripes_seven_days(window):
    with pytest.raises(ValidationError, match="AUTHORIZATION_WINDOW"):
        Settings(authorization_window=window)


def test_a_publishable_key_is_not_a_secret_key():
    with pytest.raises(ValidationError, match="STRIPE_API_KEY"):
        Settings(stripe_api_key="pk_test_123")


def test_the_webhook_listener_is_apart_from_the_internal_api_and_on_loopback_in_dev():
    assert Settings().webhook_port != Settings().port
    with pytest.raises(ValidationError, match="WEBHOOK_PORT must differ from PORT"):
        Settings(port=8002, webhook_port=8002)
    with pytest.raises(ValidationError, match="WEBHOOK_HOST must be a loopback address"):
        Settings(environment="dev", webhook_host="0.0.0.0")


def test_production_refuses_to_start_without_the_internal_credential():
    without = {k: v for k, v in PRODUCTION.items() if k != "internal_api_token"}
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN"):
        Settings(**without, stripe_api_key="sk_live_real", stripe_webhook_secret="whsec_real")
