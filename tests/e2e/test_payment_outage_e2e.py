"""The payment service SIGKILLed, restarted 5 s later: bookings made while it is down are all
accepted (202), and every one is CONFIRMED once it is back.

Most people's card comes from the gateway's own copy of their cards: their sagas start at once
and their AuthorizePayment waits in the topic for the restarted service. The e2e stack gives a
payment step 2 + 4 + 8 + 16 s before the saga compensates (STEP_MAX_ATTEMPTS in conftest.py),
so the restarted service must consume within ~30 s of the bookings: it starts (imports,
migrations) and rejoins its consumer group (the killed member's 4 s session lapses, then the
join: about 8 s on Tansu) in ~15 s on an idle machine, ~25 s on one loaded 4-fold.
One person's cards are not known to the gateway (saved before the copy existed): their booking
is accepted without a card, waits in the gateway, and is sent with their default card when the
payment service answers again (services/gateway/README.md, "Cards and bookings")."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from booking_shared.devstack import infra

from .helpers import Person, check_invariants, day_plan_retried

BOOKINGS = 6
BOOK_AT_S = 3.5  # after the kill
RESTART_AT_S = 5.0  # after the kill
UNHEARD = 0  # the person whose cards the gateway has no copy of


async def _forget_cards(system, user_id: str) -> None:
    """As for a user who saved their card before the gateway kept copies."""
    conn = await asyncpg.connect(system.database_url)
    try:
        await conn.execute("DELETE FROM gateway.card_copies WHERE user_id = $1", user_id)
    finally:
        await conn.close()


@pytest.mark.timeout(
    300
)  # the stack's start (first test of a session) and a service restart on a busy machine
def test_bookings_are_accepted_while_payment_is_down_and_complete_when_it_is_back(system):
    scout = Person(system.url("gateway"), system.url("stripe"))
    scout.sign_up("Scout Silva")
    plans = [
        day_plan_retried(scout, days_ahead=40 + i % 4, restaurant=i, events=1)
        for i in range(BOOKINGS)
    ]

    def prepare(i: int) -> tuple[Person, str, str]:
        p = Person(system.url("gateway"), system.url("stripe"))
        user = p.sign_up(f"Outage Guest {i}")
        card = p.add_card()
        if i == UNHEARD:
            asyncio.run(_forget_cards(system, user["id"]))
        return p, p.quote(plans[i])["id"], card["id"]

    with ThreadPoolExecutor(4) as pool:
        people = list(pool.map(prepare, range(BOOKINGS)))

    port = system.ports["payment"]
    os.kill(system.pid("payment"), signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 10
    while infra.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not infra.port_open(port), "the payment service is still listening"
    # The bookings come late in the 5 s outage: the sagas' payment deadlines run from there, so
    # they leave the restarted service the most time to come back (see the module's docstring).
    time.sleep(max(0.0, killed_at + BOOK_AT_S - time.monotonic()))

    def book(pq: tuple[Person, str, str]) -> dict:
        p, quote_id, _ = pq
        r = p.book(quote_id)
        assert r.status_code == 202, r.text  # accepted with payment down
        return r.json()

    with ThreadPoolExecutor(BOOKINGS) as pool:
        accepted = list(pool.map(book, people))
    assert not infra.port_open(port)  # all of them while it was down
    # From the copy, the card is known at once; without one it is chosen when payment is back.
    cards = [a["payment_method_id"] for a in accepted]
    assert cards[UNHEARD] is None
    assert cards[:UNHEARD] + cards[UNHEARD + 1 :] == [
        card for i, (_, _, card) in enumerate(people) if i != UNHEARD
    ]

    time.sleep(max(0.0, killed_at + RESTART_AT_S - time.monotonic()))
    replacement = infra.spawn(
        "payment-restarted",
        [sys.executable, "-m", "payment"],
        port,
        system.state_dir / "logs",
        env={
            **system.env(),
            "PORT": str(port),
            "INTERNAL_API_TOKEN": system.env()["PAYMENT_API_TOKEN"],
        },
        timeout=180,
    )
    system.extra.append(replacement)
    back = time.monotonic()
    print(f"payment listening again {back - killed_at:.1f} s after the kill")

    for (p, _, card), a in zip(people, accepted, strict=True):
        b = p.wait_final(a["booking_id"], timeout=max(1.0, 60 - (time.monotonic() - back)))
        assert b["state"] == "CONFIRMED", (b["state"], b.get("failure_reasons"), b.get("saga"))
        assert b["payment"]["payment_method_id"] == card  # the default card, for the unheard too
        check_invariants(system, b)
    print(f"every booking confirmed {time.monotonic() - killed_at:.1f} s after the kill")
