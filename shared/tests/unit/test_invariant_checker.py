"""The invariant checker's rules on snapshots of a small world: clean when every record agrees,
and each kind of violation found when one is planted (and only that kind)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from booking_shared.devstack.checker import (
    KINDS,
    Booking,
    Item,
    Saga,
    Snapshot,
    Stack,
    Violation,
    check,
    report,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
AGO = NOW - timedelta(minutes=10)


def intent(bid: str, amount: int, captured: bool = True, refunded: int = 0, n: int = 1) -> dict:
    return {
        "id": f"pi_{bid}_{n}",
        "metadata": {"booking_id": bid},
        "charges": {
            "data": [{"amount": amount, "captured": captured, "amount_refunded": refunded}]
        },
    }


def world() -> Snapshot:
    """A confirmed day (restaurant + concert), a failed one, a cancelled one with a fee kept,
    and one in flight; every partner and Stripe record matching."""
    s = Snapshot(now=NOW)
    s.sagas = {
        "bk_ok": Saga(
            "bk_ok",
            "CONFIRMED",
            items=[
                Item("dinner", "CONFIRMED", 9000, hold_id="lk_ok"),
                Item("fado", "CONFIRMED", 6000),
            ],
            state_changed_at=AGO,
        ),
        "bk_failed": Saga(
            "bk_failed",
            "FAILED",
            items=[
                Item("dinner", "RELEASED", 4000, hold_id="lk_failed"),
                Item("fado", "REJECTED", 3000),
            ],
            state_changed_at=AGO,
        ),
        "bk_cancelled": Saga(
            "bk_cancelled",
            "CANCELLED",
            items=[
                Item("dinner", "CANCELLED", 5000, refund_minor=3000),
                Item("fado", "CANCELLED", 2000, refund_minor=2000),
            ],
            state_changed_at=AGO,
        ),
        "bk_flying": Saga(
            "bk_flying",
            "HOLDING",
            items=[Item("dinner", "HOLDING", 4000)],
            state_changed_at=NOW - timedelta(seconds=2),
            next_deadline=NOW + timedelta(seconds=8),
        ),
    }
    s.bookings = {bid: Booking(bid, saga.state, saga.state, AGO) for bid, saga in s.sagas.items()}
    s.intents = [
        intent("bk_ok", 15000),
        intent("bk_failed", 7000, captured=False),  # authorized, then voided
        intent("bk_cancelled", 7000, refunded=5000),  # the 20.00 fee is kept, by policy
        {"id": "pi_setup", "metadata": {}, "charges": {"data": []}},  # not a booking's
    ]
    s.reservations = [
        {
            "reservation_id": "r1",
            "partner_reference": "bk_ok:dinner",
            "lock_id": "lk_ok",
            "state": "Confirmed",
        },
        {
            "reservation_id": "r2",
            "partner_reference": "bk_cancelled:dinner",
            "lock_id": "lk_c",
            "state": "CancelledWeb",
        },
    ]
    s.locks = [
        {"lock_id": "lk_ok", "state": "Consumed"},
        {"lock_id": "lk_failed", "state": "Released"},
        {"lock_id": "lk_c", "state": "Consumed"},
    ]
    s.orders = [
        {"order_id": "o1", "partner_reference": "bk_ok:fado", "status": "PLACED"},
        {"order_id": "o2", "partner_reference": "bk_cancelled:fado", "status": "CANCELLED"},
    ]
    s.holds = [
        {"hold_id": "h1", "partner_reference": "bk_ok:fado", "status": "ORDERED"},
        {"hold_id": "h2", "partner_reference": "bk_failed:fado", "status": "RELEASED"},
        {
            "hold_id": "h3",
            "partner_reference": "bk_flying:fado",
            "status": "HELD",
        },  # in flight: fine
    ]
    return s


def test_a_world_whose_records_agree_is_clean():
    snap = world()
    assert check(snap) == []
    assert "every invariant holds" in report(snap, [])


def _charge_twice(s: Snapshot) -> None:
    s.intents.append(intent("bk_ok", 15000, n=2))


def _keep_money_of_failed(s: Snapshot) -> None:
    s.intents.append(intent("bk_failed", 7000, n=2))


def _capture_too_little(s: Snapshot) -> None:
    s.intents[0] = intent("bk_ok", 15000, refunded=6000)


def _keep_more_than_the_fees(s: Snapshot) -> None:
    s.intents[2] = intent("bk_cancelled", 7000, refunded=4000)


def _capture_without_saga(s: Snapshot) -> None:
    s.intents.append(intent("bk_nobody", 2500))


def _leave_a_lock_of_failed(s: Snapshot) -> None:
    s.locks[1]["state"] = "Active"


def _leave_a_reservation_of_failed(s: Snapshot) -> None:
    s.reservations.append(
        {
            "reservation_id": "r9",
            "partner_reference": "bk_failed:dinner",
            "lock_id": "lk_failed",
            "state": "Confirmed",
        }
    )


def _lose_a_confirmed_order(s: Snapshot) -> None:
    s.orders[0]["status"] = "CANCELLED"


def _order_without_saga(s: Snapshot) -> None:
    s.orders.append({"order_id": "o9", "partner_reference": "bk_ghost:fado", "status": "PLACED"})


def _stall_a_saga(s: Snapshot) -> None:
    s.sagas["bk_flying"].next_deadline = NOW - timedelta(minutes=5)


def _give_up_undoing(s: Snapshot) -> None:
    s.sagas["bk_failed"].state = "COMPENSATION_FAILED"
    s.bookings["bk_failed"].state = "COMPENSATION_FAILED"


def _lose_a_booking_request(s: Snapshot) -> None:
    s.bookings["bk_lost"] = Booking("bk_lost", "REQUESTED", None, NOW - timedelta(minutes=3))


def _fall_behind_in_the_gateway(s: Snapshot) -> None:
    s.bookings["bk_cancelled"].state = "CANCELLING"


PLANTS: dict[str, tuple[Callable[[Snapshot], None], str]] = {
    "charged_twice": (_charge_twice, "bk_ok"),
    "money_kept": (_keep_money_of_failed, "bk_failed"),
    "capture_mismatch": (_capture_too_little, "bk_ok"),
    "money_without_saga": (_capture_without_saga, "bk_nobody"),
    "hold_left": (_leave_a_lock_of_failed, "bk_failed"),
    "reservation_left": (_leave_a_reservation_of_failed, "bk_failed"),
    "partner_mismatch": (_lose_a_confirmed_order, "bk_ok"),
    "reservation_without_saga": (_order_without_saga, "bk_ghost"),
    "stuck": (_stall_a_saga, "bk_flying"),
    "compensation_failed": (_give_up_undoing, "bk_failed"),
    "request_unanswered": (_lose_a_booking_request, "bk_lost"),
    "projection_behind": (_fall_behind_in_the_gateway, "bk_cancelled"),
}


def test_every_kind_of_violation_has_a_planted_case():
    assert set(PLANTS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_a_planted_violation_is_found_and_named(kind: str):
    snap = world()
    plant, bid = PLANTS[kind]
    plant(snap)
    found = check(snap)
    assert kind in {v.kind for v in found}, found
    assert {v.booking_id for v in found} == {bid}, found
    text = report(snap, found)
    assert f"{len(found)} violations" in text and bid in text and kind in text


def test_the_fees_a_cancellation_policy_keeps_are_not_money_kept():
    snap = world()
    snap.intents[2] = intent(
        "bk_cancelled", 7000, refunded=5000
    )  # 30.00 refunded of 50.00 + 20.00 in full
    assert check(snap) == []
    _keep_more_than_the_fees(snap)
    assert [v.kind for v in check(snap)] == ["money_kept"]


def test_a_recent_request_and_a_saga_inside_its_deadlines_are_not_stuck():
    snap = world()
    snap.bookings["bk_new"] = Booking("bk_new", "REQUESTED", None, NOW - timedelta(seconds=5))
    snap.sagas["bk_flying"].next_deadline = NOW - timedelta(seconds=10)  # overdue, within the grace
    assert check(snap, grace_s=30) == []
    assert {v.kind for v in check(snap, grace_s=1)} == {"request_unanswered", "stuck"}


def test_a_paused_saga_is_left_to_its_operator():
    snap = world()
    _stall_a_saga(snap)
    snap.sagas["bk_flying"].paused = True
    assert check(snap) == []


def test_an_unanswered_cancellation_is_reported():
    snap = world()
    snap.bookings["bk_ok"] = Booking(
        "bk_ok", "CANCELLATION_REQUESTED", "CONFIRMED", AGO, NOW - timedelta(minutes=2)
    )
    assert [(v.kind, v.booking_id) for v in check(snap)] == [("request_unanswered", "bk_ok")]


def test_checking_some_bookings_ignores_the_others():
    snap = world()
    _charge_twice(snap)
    _capture_without_saga(snap)
    assert check(snap, booking_ids=["bk_failed"]) == []
    found = check(snap, booking_ids=["bk_ok"])
    assert {v.booking_id for v in found} == {"bk_ok"}
    assert {v.kind for v in found} == {"charged_twice", "capture_mismatch"}  # twice the price taken


def test_a_violation_reads_as_one_line():
    line = str(Violation("money_kept", "bk_1", "70.00 EUR kept"))
    assert line.startswith("money_kept") and "bk_1" in line and "\n" not in line


def test_the_stack_is_found_where_make_up_puts_it():
    default = Stack.from_env({})
    assert default.database_url == "postgresql://postgres@127.0.0.1:5433/postgres"
    assert default.stripe_url == "http://127.0.0.1:8420"
    assert default.opentable_sandbox_url == "http://127.0.0.1:8103"
    assert default.eventbrite_sandbox_url == "http://127.0.0.1:8104"
    moved = Stack.from_env(
        {"POSTGRES_PORT": "6543", "LOCALSTRIPE_PORT": "9420", "EVENTBRITE_SANDBOX_PORT": "9104"}
    )
    assert moved.database_url.endswith(":6543/postgres") and moved.stripe_url.endswith(":9420")
    assert moved.eventbrite_sandbox_url.endswith(":9104")
    given = Stack.from_env({"DATABASE_URL": "postgresql://u@db/x", "STRIPE_API_KEY": "sk_test_abc"})
    assert given.database_url == "postgresql://u@db/x" and given.stripe_key == "sk_test_abc"


def partially_cancelled(
    world_: Snapshot, refund: int = 2000, order_status: str = "CANCELLED"
) -> Snapshot:
    """A day where the restaurant refused to cancel (seated) and the concert was refunded."""
    world_.sagas["bk_part"] = Saga(
        "bk_part",
        "PARTIALLY_CANCELLED",
        items=[
            Item("dinner", "NOT_CANCELLABLE", 5000),
            Item("fado", "CANCELLED", 2000, refund_minor=2000),
        ],
        state_changed_at=AGO,
    )
    world_.bookings["bk_part"] = Booking(
        "bk_part", "PARTIALLY_CANCELLED", "PARTIALLY_CANCELLED", AGO
    )
    world_.intents.append(intent("bk_part", 7000, refunded=refund))
    world_.reservations.append(
        {
            "reservation_id": "r9",
            "partner_reference": "bk_part:dinner",
            "lock_id": "lk_p",
            "state": "Seated",
        }
    )
    world_.locks.append({"lock_id": "lk_p", "state": "Consumed"})
    world_.orders.append(
        {"order_id": "o9", "partner_reference": "bk_part:fado", "status": order_status}
    )
    return world_


def test_a_partly_cancelled_day_keeps_what_stands_and_refunds_the_rest():
    assert check(partially_cancelled(world())) == []


def test_a_partly_cancelled_day_whose_refund_never_came_is_found():
    found = check(partially_cancelled(world(), refund=0))
    assert [(f.kind, f.booking_id) for f in found] == [("capture_mismatch", "bk_part")]


def test_a_partly_cancelled_day_with_a_cancelled_item_still_booked_is_found():
    found = check(partially_cancelled(world(), order_status="PLACED"))
    assert [(f.kind, f.booking_id) for f in found] == [("partner_mismatch", "bk_part")]
