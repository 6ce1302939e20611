"""The saga end to end over the real broker and Postgres, with scripted fake participants.
Invariants are checked against the participants' own records, not only the saga tables."""

from __future__ import annotations

import asyncio

from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from booking_shared.testing.plugin import wait_for

from .conftest import Harness
from .fakes import Act


def assert_nothing_kept_or_charged(h: Harness, bid: str) -> None:
    assert h.fakes.active(bid) == {}, (
        "a partner still holds or has booked an item of a failed booking"
    )
    money = h.fakes.money(bid)
    assert money.get("captured", 0) - money.get("refunded", 0) == 0, (
        "money kept for a failed booking"
    )
    assert money.get("authorized", 0) == 0, "a payment hold left on the card"


def command_ids(h: Harness, bid: str, type_: str, item: str | None = None) -> set:
    return {c.command_id for c in h.fakes.commands(bid, type_, item)}


async def test_a_three_item_itinerary_is_held_authorized_confirmed_and_captured(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book()
    assert await h.settles(bid) == "CONFIRMED"
    # Participants' view: every item booked, exactly the total captured once.
    assert h.fakes.active(bid) == {"item-1": "BOOKED", "item-2": "BOOKED", "item-3": "BOOKED"}
    total = sum(i.line_total().amount_minor for i in h.items(3))
    assert h.fakes.money(bid)["captured"] == total
    assert len(command_ids(h, bid, "CapturePayment")) == 1
    auth = h.fakes.commands(bid, "AuthorizePayment")[0]
    assert auth.amount.amount_minor == total  # type: ignore[attr-defined]
    # Order: every hold before the authorization, every confirmation before the capture.
    kinds = [c.type_name() for c in h.fakes.commands(bid)]
    assert kinds.index("AuthorizePayment") > max(i for i, k in enumerate(kinds) if k == "HoldItem")
    assert kinds.index("CapturePayment") > max(i for i, k in enumerate(kinds) if k == "ConfirmItem")
    # Public event with each item's confirmation code, and every state change on saga.state.v1.
    await wait_for(lambda: h.fakes.published(bid, "BookingConfirmed"), what="BookingConfirmed")
    event = h.fakes.published(bid, "BookingConfirmed")[0]
    assert {i.item_id: i.confirmation_code for i in event.items} == {  # type: ignore[attr-defined]
        "item-1": "CONFIRM-item-1".replace("CONFIRM", "CONF"),
        "item-2": "CONF-item-2",
        "item-3": "CONF-item-3",
    }
    changes = [m.to_state for m in h.fakes.published(bid, "SagaStateChanged")]  # type: ignore[attr-defined]
    assert changes == [
        "REQUESTED",
        "HOLDING",
        "AUTHORIZING",
        "CONFIRMING",
        "CAPTURING",
        "CONFIRMED",
    ]


async def test_an_item_refused_at_confirmation_cancels_the_others_and_voids_the_payment(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"ConfirmItem:item-2": Act("reject", "slot_taken")})
    assert await h.settles(bid) == "FAILED"
    assert_nothing_kept_or_charged(h, bid)
    assert h.fakes.commands(bid, "CapturePayment") == []
    assert len(h.fakes.commands(bid, "VoidPayment")) == 1
    failed = h.fakes.published(bid, "BookingFailed")[0]
    assert [(r.item_id, r.code) for r in failed.reasons] == [("item-2", "slot_taken")]  # type: ignore[attr-defined]
    # Reverse order: the items were undone before the payment hold was voided.
    kinds = [c.type_name() for c in h.fakes.commands(bid)]
    assert kinds.index("VoidPayment") > max(i for i, k in enumerate(kinds) if k == "CancelItem")


async def test_an_unavailable_item_releases_the_holds_before_the_card_is_touched(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-3": Act("reject", "sold_out")})
    assert await h.settles(bid) == "FAILED"
    assert_nothing_kept_or_charged(h, bid)
    assert h.fakes.commands(bid, "AuthorizePayment") == []


async def test_a_declined_card_releases_the_holds(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("decline", "insufficient_funds")})
    assert await h.settles(bid) == "FAILED"
    assert_nothing_kept_or_charged(h, bid)
    assert h.fakes.commands(bid, "ConfirmItem") == []
    # The restaurant items were held and are released; the event item (no hold) needs nothing.
    assert {c.item_id for c in h.fakes.commands(bid, "CancelItem")} == {"item-1", "item-3"}  # type: ignore[attr-defined]
    saga = await h.saga(bid)
    assert saga["failure_reasons"] == [
        {"item_id": None, "code": "insufficient_funds", "detail": ""}
    ]


async def test_a_failed_capture_cancels_the_booked_items(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"CapturePayment": Act("fail", "authorization_expired")})
    assert await h.settles(bid) == "FAILED"
    assert_nothing_kept_or_charged(h, bid)
    cancelled = [c for c in h.fakes.commands(bid, "CancelItem")]
    assert {c.item_id for c in cancelled} == {"item-1", "item-2", "item-3"}  # type: ignore[attr-defined]


async def test_a_partner_that_never_answers_gets_the_same_command_again_then_the_saga_compensates(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-2": Act("silent")})
    assert await h.settles(bid, within=30) == "FAILED"
    holds = h.fakes.commands(bid, "HoldItem", "item-2")
    assert len(holds) == h.settings.step_max_attempts
    assert len({c.command_id for c in holds}) == 1, "a resend must reuse the command id"
    assert_nothing_kept_or_charged(h, bid)
    saga = await h.saga(bid)
    assert saga["failure_reasons"][0]["code"] == "timeout"
    step = next(s for s in saga["steps"] if s["name"] == "hold:item-2")
    assert (step["status"], step["attempts"]) == ("EXHAUSTED", 3)


async def test_a_lost_answer_is_recovered_by_the_resend(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"ConfirmItem:item-1": Act("silent", silent_for=1)})
    assert await h.settles(bid, within=30) == "CONFIRMED"
    confirms = h.fakes.commands(bid, "ConfirmItem", "item-1")
    assert len(confirms) == 2 and len({c.command_id for c in confirms}) == 1


async def test_duplicate_replies_change_nothing(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"*": Act(copies=3)})
    assert await h.settles(bid) == "CONFIRMED"
    assert len(h.fakes.commands(bid, "AuthorizePayment")) == 1
    assert len(h.fakes.commands(bid, "CapturePayment")) == 1
    assert len(h.fakes.commands(bid, "ConfirmItem")) == 3
    total = sum(i.line_total().amount_minor for i in h.items(3))
    assert h.fakes.money(bid)["captured"] == total
    history = (await h.saga(bid))["history"]
    assert sum("duplicate" in e["summary"] for e in history if e["direction"] == "in") >= 10


async def test_a_redelivered_message_is_handled_once(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"CapturePayment": Act("manual")})
    await h.reaches(bid, "CAPTURING")
    seen = h.fakes.seen[-1]
    await wait_for(lambda: h.fakes._manual.get((bid, "CapturePayment")), what="the capture command")
    from booking_shared.contracts import PaymentCaptured

    capture = h.fakes.commands(bid, "CapturePayment")[0]
    reply = PaymentCaptured(
        booking_id=bid, command_id=capture.command_id, amount_captured=capture.amount
    )  # type: ignore[attr-defined]
    env = await h.fakes.inject("payment.replies.v1", reply, seen.envelope)
    await h.fakes.inject("payment.replies.v1", reply, envelope=env)  # the very same message again
    assert await h.settles(bid) == "CONFIRMED"
    rows = await h.pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", env.message_id)
    assert rows == 1
    h.fakes._manual.pop((bid, "CapturePayment"), None)


async def test_a_late_hold_after_compensation_began_is_released(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book(
        {
            "HoldItem:item-3": Act(delay_s=1.0),
            "HoldItem:item-2": Act("reject", "sold_out"),
        }
    )
    await h.reaches(bid, "FAILED", "COMPENSATION_FAILED")
    # The ItemHeld for item-3 arrives after the saga released everything: it releases it again.
    await wait_for(
        lambda: len(h.fakes.commands(bid, "CancelItem", "item-3")) >= 2,
        timeout=10,
        what="a second release",
    )
    assert await h.settles(bid) == "FAILED"
    releases = h.fakes.commands(bid, "CancelItem", "item-3")
    assert len({c.command_id for c in releases}) == 2
    assert_nothing_kept_or_charged(h, bid)


async def test_best_effort_books_what_it_can_and_captures_only_for_that(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book(
        {
            "HoldItem:item-2": Act("reject", "sold_out"),
            "ConfirmItem:item-3": Act("reject", "partner_unavailable"),
        },
        mode="best_effort",
    )
    assert await h.settles(bid) == "CONFIRMED"
    items = h.items(3)
    assert h.fakes.active(bid) == {"item-1": "BOOKED"}  # item-3's hold was released
    auth = h.fakes.commands(bid, "AuthorizePayment")[0]
    assert (
        auth.amount.amount_minor
        == items[0].line_total().amount_minor + items[2].line_total().amount_minor
    )  # type: ignore[attr-defined]
    assert h.fakes.money(bid)["captured"] == items[0].line_total().amount_minor
    event = h.fakes.published(bid, "BookingConfirmed")[0]
    assert [i.item_id for i in event.items] == ["item-1"]  # type: ignore[attr-defined]
    assert {f.item_id for f in event.failed_items} == {"item-2", "item-3"}  # type: ignore[attr-defined]


async def test_a_cancellation_cancels_each_item_and_refunds_what_each_policy_allows(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    items = h.items(3)
    bid = await h.book({"CancelItem:item-2": Act(refund=1000), "CancelItem:item-3": Act(refund=0)})
    assert await h.settles(bid) == "CONFIRMED"
    await h.cancel(bid)
    await h.reaches(bid, "CANCELLING", "CANCELLED", "COMPENSATION_FAILED")
    assert await h.settles(bid) == "CANCELLED"
    assert h.fakes.active(bid) == {}
    expected = items[0].line_total().amount_minor + 1000
    assert h.fakes.money(bid)["refunded"] == expected
    await wait_for(lambda: h.fakes.published(bid, "BookingCancelled"), what="BookingCancelled")
    event = h.fakes.published(bid, "BookingCancelled")[0]
    assert event.total_refunded.amount_minor == expected  # type: ignore[attr-defined]
    breakdown = {r.item_id: (r.refunded.amount_minor, r.fee.amount_minor) for r in event.refunds}  # type: ignore[attr-defined]
    assert breakdown == {
        "item-1": (items[0].line_total().amount_minor, 0),
        "item-2": (1000, items[1].line_total().amount_minor - 1000),
        "item-3": (0, items[2].line_total().amount_minor),
    }


async def test_3ds_parks_the_saga_with_the_client_secret_and_resumes_when_paid(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("action_required")})
    await h.reaches(bid, "ACTION_REQUIRED")
    saga = await h.saga(bid)
    assert saga["payment"]["client_secret"] == f"pi_{bid}_secret_3ds"
    await h.fakes.complete_3ds(bid)
    assert await h.settles(bid) == "CONFIRMED"
    assert (await h.saga(bid))["payment"]["client_secret"] is None
    assert len(command_ids(h, bid, "AuthorizePayment")) == 1


async def test_3ds_never_completed_compensates_when_the_customers_window_ends(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("action_required")})
    await h.reaches(bid, "ACTION_REQUIRED")
    assert await h.settles(bid, within=h.settings.action_window_s + 15) == "FAILED"
    assert len(h.fakes.commands(bid, "VoidPayment")) == 1
    assert_nothing_kept_or_charged(h, bid)
    saga = await h.saga(bid)
    assert saga["failure_reasons"][0]["code"] == "authentication_timeout"


async def test_twenty_concurrent_sagas_all_reach_a_final_state_with_the_invariants(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    scripts = [
        {},
        {"HoldItem:item-2": Act("reject")},
        {"AuthorizePayment": Act("decline")},
        {"ConfirmItem:item-1": Act("reject")},
        {"CapturePayment": Act("fail")},
    ]
    ids = [await h.book(scripts[i % len(scripts)]) for i in range(20)]
    finals = await asyncio.gather(*(h.settles(b, within=40) for b in ids))
    for i, (bid, final) in enumerate(zip(ids, finals, strict=True)):
        if i % len(scripts) == 0:
            assert final == "CONFIRMED"
            assert len(h.fakes.active(bid)) == 3
        else:
            assert final == "FAILED", bid
            assert_nothing_kept_or_charged(h, bid)


async def test_every_message_in_and_out_is_in_the_history_and_the_events_reach_their_topics(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book()
    assert await h.settles(bid) == "CONFIRMED"
    history = (await h.saga(bid))["history"]
    ins = [e["type"] for e in history if e["direction"] == "in"]
    outs = [e["type"] for e in history if e["direction"] == "out"]
    assert (
        ins.count("BookingRequested") == 1
        and ins.count("ItemHeld") == 3
        and ins.count("ItemConfirmed") == 3
    )
    assert "PaymentAuthorized" in ins and "PaymentCaptured" in ins
    assert outs.count("HoldItem") == 3 and outs.count("ConfirmItem") == 3
    assert outs.count("SagaStateChanged") == 6 and outs.count("BookingConfirmed") == 1
    assert all(e["at"] and e["message_id"] for e in history)
    topics = {e["topic"] for e in history if e["direction"] == "out"}
    assert {SAGA_STATE, BOOKING_EVENTS, "payment.commands.v1"} <= topics


async def test_several_deadline_workers_fire_each_deadline_once(orchestrator: Harness) -> None:
    from orchestrator import handlers

    h = orchestrator
    deps = h.app.state.runtime.deps
    bid = await h.book({"HoldItem:item-2": Act("silent")})
    await h.reaches(bid, "HOLDING")

    async def hammer() -> None:  # three more instances' workers, beside the service's own
        while await h.state(bid) == "HOLDING":
            await asyncio.gather(*(handlers.fire_due_deadlines(h.pool, deps) for _ in range(3)))
            await asyncio.sleep(0.01)

    await asyncio.wait_for(hammer(), 20)
    assert await h.settles(bid) == "FAILED"
    assert len(h.fakes.commands(bid, "HoldItem", "item-2")) == h.settings.step_max_attempts
    for c in h.fakes.commands(bid, "CancelItem"):
        assert sum(x.command_id == c.command_id for x in h.fakes.commands(bid, "CancelItem")) == 1


async def test_a_two_item_booking_whose_partner_refuses_one_cancellation_refunds_the_other(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    items = h.items(2)
    bid = await h.book({"CancelItem:item-2": Act("reject", "not_cancellable")}, n=2)
    assert await h.settles(bid) == "CONFIRMED"
    await h.cancel(bid)
    await h.reaches(bid, "CANCELLING", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED")
    assert await h.settles(bid) == "PARTIALLY_CANCELLED"
    # The partners' view: the dinner cancelled, the concert still booked (it stands, paid).
    assert h.fakes.active(bid) == {"item-2": "BOOKED"}
    money = h.fakes.money(bid)
    assert money["refunded"] == items[0].line_total().amount_minor
    assert money["captured"] - money["refunded"] == items[1].line_total().amount_minor
    await wait_for(lambda: h.fakes.published(bid, "BookingCancelled"), what="BookingCancelled")
    event = h.fakes.published(bid, "BookingCancelled")[0]
    assert event.partial is True  # type: ignore[attr-defined]
    assert [(o.item_id, o.outcome) for o in event.items] == [  # type: ignore[attr-defined]
        ("item-1", "cancelled"),
        ("item-2", "not_cancellable"),
    ]
    saga = await h.saga(bid)
    view = {i["item_id"]: i for i in saga["items"]}
    assert view["item-1"]["status"] == "CANCELLED"
    assert view["item-1"]["refund"] == {
        "amount_minor": items[0].line_total().amount_minor,
        "currency": "EUR",
    }
    assert view["item-2"]["status"] == "NOT_CANCELLABLE"
    assert view["item-2"]["failure"]["code"] == "not_cancellable"
    assert "window" in view["item-2"]["failure"]["detail"]
    assert h.fakes.published(bid, "BookingFailed") == []


async def test_a_capture_answered_after_several_resends_confirms_with_nothing_cancelled(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    silent = h.settings.escalate_after_sends + 2
    bid = await h.book({"CapturePayment": Act("silent", silent_for=silent)})

    async def escalated() -> dict | None:
        if await h.state(bid) != "CAPTURING":
            return None
        saga = await h.saga(bid)
        return saga if saga["attention"] else None

    # While the capture goes unanswered the saga waits in CAPTURING, flagged for operators and
    # listed with the stuck sagas even though each resend touches it.
    flagged = await wait_for(escalated, timeout=30, what="the silent capture escalated")
    assert flagged["state"] == "CAPTURING"
    r = await h.http.get("/internal/sagas", params={"older_than_s": 3600, "limit": 500})
    listed = {s["booking_id"]: s for s in r.json()["sagas"]}
    assert bid in listed and listed[bid]["attention"]
    assert any("escalated to operators" in e["summary"] for e in flagged["history"])

    assert await h.settles(bid, within=40) == "CONFIRMED"
    captures = h.fakes.commands(bid, "CapturePayment")
    assert len(captures) == silent + 1
    assert len({c.command_id for c in captures}) == 1, "a resend must reuse the command id"
    assert (
        h.fakes.commands(bid, "CancelItem") == [] and h.fakes.commands(bid, "RefundPayment") == []
    )
    assert h.fakes.active(bid) == {"item-1": "BOOKED", "item-2": "BOOKED", "item-3": "BOOKED"}
    assert h.fakes.money(bid)["captured"] == sum(i.line_total().amount_minor for i in h.items(3))
    saga = await h.saga(bid)
    assert saga["attention"] is None and saga["failure_reasons"] == []
