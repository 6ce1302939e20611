"""Lost requests and the invariant checker, every part real: a BookingRequested that never
reaches the broker is sent again by the gateway's reconciler and the booking completes; money
and holds planted at Stripe and at a partner are found by `make check`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import httpx

from booking_shared.devstack import checker

from .helpers import STRIPE_KEY, Person, check_invariants


async def _sql(system, *statements: str) -> list:
    conn = await asyncpg.connect(system.database_url)
    try:
        out = []
        for sql in statements:
            out.append(await conn.fetch(sql))
        return out
    finally:
        await conn.close()


def test_a_booking_request_lost_before_the_broker_is_sent_again_and_the_booking_completes(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    user = p.sign_up("Nguyễn Thị Ngọc")
    p.add_card()
    quote = p.quote(p.day_plan(days_ahead=40, restaurant=14, events=1))
    fn = f"lose_{uuid.uuid4().hex[:8]}"
    # The first BookingRequested of this person is marked sent without being sent: as if the
    # broker had lost it. A resend (it has a causation id) goes through.
    asyncio.run(
        _sql(
            system,
            f"""
        CREATE FUNCTION gateway.{fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.payload LIKE '%"user_id":"{user["id"]}"%'
               AND NEW.headers @> '[["type", "BookingRequested"]]'
               AND NEW.headers::text NOT LIKE '%causation_id%' THEN
                NEW.sent_at := now();
                NEW.last_error := 'lost on purpose by an end-to-end test';
            END IF;
            RETURN NEW;
        END $$""",
            f"CREATE TRIGGER {fn} BEFORE INSERT ON gateway.outbox FOR EACH ROW EXECUTE FUNCTION gateway.{fn}()",
        )
    )
    try:
        r = p.book(quote["id"])
        assert r.status_code == 202, r.text
        booking_id = r.json()["booking_id"]
        b = p.wait_final(booking_id, timeout=60)
    finally:
        asyncio.run(
            _sql(system, f"DROP TRIGGER {fn} ON gateway.outbox", f"DROP FUNCTION gateway.{fn}()")
        )

    assert b["state"] == "CONFIRMED", (b["failure_reasons"], b["saga"])
    rec = check_invariants(system, b)
    assert rec.captured == quote["total"]["amount_minor"]
    [sent] = asyncio.run(
        _sql(
            system,
            f"""
        SELECT headers::text AS headers, last_error FROM gateway.outbox
        WHERE msg_key = '{booking_id}' AND headers @> '[["type", "BookingRequested"]]' ORDER BY id""",
        )
    )
    assert len(sent) >= 2 and sent[0]["last_error"].startswith("lost on purpose")
    assert "causation_id" in sent[1]["headers"]
    saga = httpx.get(
        f"{system.url('orchestrator')}/internal/sagas/{booking_id}",
        headers=system.credential("orchestrator"),
    ).json()
    requests = [
        h for h in saga["history"] if h["direction"] == "in" and h["type"] == "BookingRequested"
    ]
    assert requests and "already exists" not in requests[0]["summary"]
    assert len({h["message_id"] for h in requests}) == len(requests)  # only resends reached it


def _plant_capture(system, booking_id: str, amount: int) -> str:
    stripe = system.url("stripe")
    pm = httpx.post(
        f"{stripe}/v1/payment_methods",
        auth=(STRIPE_KEY, ""),
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2031",
            "card[cvc]": "123",
        },
    ).json()["id"]
    pi = httpx.post(
        f"{stripe}/v1/payment_intents",
        auth=(STRIPE_KEY, ""),
        data={
            "amount": str(amount),
            "currency": "eur",
            "payment_method": pm,
            "confirm": "true",
            "metadata[booking_id]": booking_id,
        },
    )
    assert pi.status_code == 200, pi.text
    assert pi.json()["status"] == "succeeded", pi.json()
    return pi.json()["id"]


def test_make_check_finds_money_and_a_hold_planted_for_a_failed_booking_and_a_capture_of_no_saga(
    system,
):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Ōtake Hiroshi")
    p.add_card("4000000000000341")  # declined when charged: the booking fails
    plan = p.day_plan(days_ahead=41, restaurant=15, events=1)
    b = p.wait_final(p.book(p.quote(plan)["id"]).json()["booking_id"])
    assert b["state"] == "FAILED", b
    failed = b["booking_id"]
    check_invariants(system, b)  # clean before anything is planted

    stranger = f"bk_planted_{uuid.uuid4().hex[:8]}"
    system.planted |= {failed, stranger}
    _plant_capture(system, failed, 4200)
    _plant_capture(system, stranger, 1500)
    event = plan[1]
    hold = httpx.post(
        f"{system.url('eventbrite_sandbox')}/partner/v1/holds",
        headers={"X-Request-Id": str(uuid.uuid4())},
        json={
            "event_id": event["event_id"],
            "ticket_class_id": event["ticket_class_id"],
            "quantity": 1,
            "partner_reference": f"{failed}:planted",
        },
    )
    assert hold.status_code == 201, hold.text

    snap, violations = checker.run(
        checker.Stack.from_env(system.env()), booking_ids=[failed, stranger]
    )
    found = {(v.kind, v.booking_id) for v in violations}
    assert found == {
        ("money_kept", failed),
        ("hold_left", failed),
        ("money_without_saga", stranger),
    }, violations

    # The command as `make check` runs it, pointed at this stack: exit 1 and a readable list.
    env = {**os.environ, **system.env(), "DEVSTACK_DIR": str(system.state_dir)}
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "booking_shared.devstack.checker",
            "--booking",
            failed,
            "--booking",
            stranger,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "3 violations" in cli.stdout
    for kind, bid in found:
        assert any(kind in line and bid in line for line in cli.stdout.splitlines()), cli.stdout
