"""The orchestrator reads the contracts' golden examples of everything it consumes, and the
saga runs on the golden BookingRequested."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import booking_shared.contracts as contracts
from booking_shared.contracts import BookingRequested, model_for
from booking_shared.contracts.catalogue import PAYMENT_REPLY_TYPES, PROVIDER_REPLIES
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import start

from .sagas import ctx

EXAMPLES = Path(contracts.__file__).parent / "examples"
CONSUMED = ["BookingRequested", "BookingCancellationRequested", "ProviderAnnounced"] + [
    m.__name__ for m in (*PAYMENT_REPLY_TYPES, *PROVIDER_REPLIES)
]


@pytest.mark.parametrize("type_name", CONSUMED)
def test_every_consumed_message_has_a_golden_example_that_parses(type_name: str) -> None:
    model = model_for(type_name)
    assert model is not None
    model.model_validate_json((EXAMPLES / f"{type_name}.json").read_text())


def test_the_golden_booking_request_starts_a_saga_once_its_items_share_the_total_currency() -> None:
    raw = json.loads((EXAMPLES / "BookingRequested.json").read_text())
    # The example's second item is priced in USD inside a EUR booking: one payment cannot
    # cover both, so the saga refuses it (reported upstream); with one currency it runs.
    for item in raw["items"]:
        item["cost"]["currency"] = raw["total"]["currency"]
    d = start(BookingRequested.model_validate(raw), ctx())
    assert d.saga.state == SagaState.HOLDING
    assert len(d.commands) == len(raw["items"])
