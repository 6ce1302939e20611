"""Secrets never reach a log through a settings error: a service refusing to start prints why,
naming the setting, never the values it was given (the whole environment, for a model-level
check). Each service's Settings, with every secret set and one setting wrong."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from gateway.config import Settings as GatewaySettings
from orchestrator.config import Settings as OrchestratorSettings
from payment.config import Settings as PaymentSettings
from provider_eventbrite.config import Settings as EventbriteSettings
from provider_opentable.config import Settings as OpenTableSettings

SECRETS = {
    "DB_PASSWORD": "db-secret-Zq81",
    "GUEST_DATA_KEY": "guest-key-secret-Wm27",
    "INTERNAL_API_TOKEN": "internal-token-secret-Kx55-padding-padding",
    "STRIPE_API_KEY": "sk_live_stripe-secret-Jd90",
    "STRIPE_WEBHOOK_SECRET": "whsec_webhook-secret-Pt44",
    "PAYMENT_API_TOKEN": "payment-token-secret-Rb12-padding-padding",
    "ORCHESTRATOR_API_TOKEN": "orch-token-secret-Hy67-padding-padding-pad",
    "OPS_BOOTSTRAP_TOKEN": "ops-secret-Lc39",  # too short for production: a model-level error
    "OPENTABLE_API_KEY": "opentable-key-secret-Vn48",
    "EVENTBRITE_TOKEN": "eventbrite-token-secret-Gs73",
    "DATABASE_URL": "postgresql://svc:url-password-secret-Qa16@db.internal:5432/booking",
}
SETTINGS = [
    GatewaySettings,
    OrchestratorSettings,
    PaymentSettings,
    OpenTableSettings,
    EventbriteSettings,
]
WRONG = {
    # a field-level error: the value itself would be printed
    "field": {"DB_POOL_MAX": "many-db-secret-Zq81"},
    # a model-level error (production without a real key): the whole input would be printed
    "model": {
        "ENVIRONMENT": "production",
        "DB_PROVISION": "false",
        "GUEST_DATA_KEY": "dev-only-guest-data-key",
    },
}


def leaked(text: str) -> list[str]:
    marks = [v.split("-secret-")[1] if "-secret-" in v else v for v in SECRETS.values()]
    return [m for m in marks if m in text]


@pytest.mark.parametrize("kind", sorted(WRONG))
@pytest.mark.parametrize("settings_class", SETTINGS, ids=lambda c: c.__module__.split(".")[0])
def test_a_settings_error_names_the_setting_and_never_a_secret(
    monkeypatch, caplog, settings_class, kind
):
    for name, value in {**SECRETS, **WRONG[kind]}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as err:
        settings_class()
    text = str(err.value)
    assert (
        ("db_pool_max" in text)
        if kind == "field"
        else ("GUEST_DATA_KEY" in text or "must be set" in text)
    ), text
    logging.getLogger("settings-check").exception(
        "the service cannot start"
    )  # as a boundary would log it
    assert leaked(text) == [] and leaked(repr(err.value)) == [], text
    assert leaked(caplog.text) == [], caplog.text


def test_the_check_would_see_a_secret_if_one_were_printed():
    assert leaked("input_value='sk_live_stripe-secret-Jd90'") == ["Jd90"]
