"""Every message has a golden example; examples and models agree in both directions."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from booking_shared.contracts import REGISTRY, BookingItem, BookingRequested, Envelope, HoldItem
from booking_shared.contracts.export import EXAMPLES
from booking_shared.contracts.export import main as export_main
from booking_shared.contracts.topics import all_topics, dlq, provider_commands

NAMES = sorted(REGISTRY)


def test_every_message_type_has_a_golden_example():
    missing = [n for n in NAMES if not (EXAMPLES / f"{n}.json").exists()]
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_the_golden_example_parses_and_serialises_back_unchanged(name):
    text = (EXAMPLES / f"{name}.json").read_text()
    model = REGISTRY[name].model_validate_json(text)
    assert json.loads(model.model_dump_json()) == json.loads(text)


@pytest.mark.parametrize("name", NAMES)
def test_a_golden_example_with_an_unknown_field_is_refused(name):
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    data["surprise"] = 1
    with pytest.raises(ValidationError):
        REGISTRY[name].model_validate(data)


def test_the_exported_json_schemas_are_up_to_date():
    assert export_main(["--check"]) == 0, "run `make schemas` and commit the result"


def test_the_envelope_round_trips_through_kafka_headers():
    env = Envelope.model_validate_json((EXAMPLES / "Envelope.json").read_text())
    headers = env.to_headers()
    assert all(isinstance(v, bytes) for _, v in headers)
    assert Envelope.from_headers(headers) == env
    assert Envelope.from_headers({k: v.decode() for k, v in headers}) == env


def test_a_caused_envelope_keeps_the_trace_and_names_its_cause():
    first = Envelope.new("BookingRequested", correlation_id="bk_1", producer="gateway")
    second = Envelope.new("HoldItem", correlation_id="bk_1", producer="orchestrator", cause=first)
    assert second.causation_id == first.message_id
    assert second.traceparent.split("-")[1] == first.traceparent.split("-")[1]
    assert second.traceparent.split("-")[2] != first.traceparent.split("-")[2]


def test_booking_requested_carries_no_readable_guest_contact():
    example = (EXAMPLES / "BookingRequested.json").read_text()
    assert "@" not in example  # no email in clear; the guest is sealed


SCHEDULE_ITEM = {
    "id": "a1",
    "title": "Dinner at Belcanto",
    "category": "dinner",
    "start_time": "2026-12-05T20:00:00+00:00",
    "cost": "$45.00",
    "venue_id": "rest_004",
    "event_id": None,
    "ticket_class_id": None,
    "party_size": 2,
    "quantity": None,
}


def test_a_schedule_generator_item_is_accepted_as_it_is():
    item = BookingItem.model_validate(SCHEDULE_ITEM)
    assert item.cost.amount_minor == 4500 and item.cost.currency == "USD"
    assert item.booking_type == "restaurant"
    assert item.line_total().amount_minor == 9000


def test_an_event_item_with_a_numeric_cost_is_accepted():
    item = BookingItem.model_validate(
        {
            **SCHEDULE_ITEM,
            "venue_id": None,
            "event_id": "evt_1",
            "ticket_class_id": "tc_1",
            "cost": 25,
            "quantity": 3,
        }
    )
    assert item.booking_type == "event"
    assert item.line_total().amount_minor == 7500


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"venue_id": None}, "venue_id"),
        ({"event_id": "evt_1"}, "venue_id"),
        ({"start_time": "2026-12-05T20:00:00"}, "start_time"),
        ({"cost": "forty"}, "cost"),
        ({"party_size": 0}, "party_size"),
        ({"cost": True}, "cost"),
    ],
)
def test_a_bad_item_is_refused_with_a_message_naming_the_field(change, field):
    with pytest.raises(ValidationError) as err:
        BookingItem.model_validate({**SCHEDULE_ITEM, **change})
    assert field in str(err.value)


def test_commands_need_a_command_id():
    data = json.loads((EXAMPLES / "HoldItem.json").read_text())
    data.pop("command_id")
    with pytest.raises(ValidationError, match="command_id"):
        HoldItem.model_validate(data)
    data["command_id"] = str(uuid.uuid4())
    HoldItem.model_validate(data)


def test_booking_requested_accepts_only_stripe_tokens_as_payment():
    data = json.loads((EXAMPLES / "BookingRequested.json").read_text())
    data["payment"]["payment_method_id"] = "4242424242424242"
    with pytest.raises(ValidationError, match="payment_method_id"):
        BookingRequested.model_validate(data)


def test_every_topic_has_a_dead_letter_topic():
    topics = all_topics()
    assert provider_commands("opentable") in topics
    for t in [t for t in topics if not t.endswith(".dlq")]:
        assert dlq(t) in topics
