"""Commands of different bookings handled at once (booking_shared.lanes), as many as the pool
has connections: each handler holds one connection for its transaction and records its attempt
before the Stripe call on another. With one pool for both, as many handlers as connections each
held one and waited for a second, and the service answered nothing more (found by the
kill-services chaos run, after a restart with a backlog of commands). DB_POOL_RESERVE now keeps
connections out of the handlers' reach by default; this test sets it to 0 to show that a
handler still never needs two of the pool's."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import pytest

from booking_shared.contracts import AuthorizePayment, PaymentAuthorized
from booking_shared.money import Money

pytestmark = [pytest.mark.integration]

# Two connections, both open to handlers (no reserve), two commands handled at once: each
# handler holds one connection, so a second taken from the same pool would never come.
SERVICE_OVERRIDES = {"db_pool_max": 2, "db_pool_reserve": 0, "consumer_concurrency": 2}


async def test_a_backlog_of_commands_is_answered_with_fewer_connections_than_commands(svc):
    customer, pm = await svc.customer_with_card()
    commands = [
        AuthorizePayment(
            booking_id=f"bk_{secrets.token_hex(6)}",
            command_id=uuid.uuid4(),
            customer_id=customer,
            payment_method_id=pm,
            amount=Money(amount_minor=1000 + n, currency="EUR"),
        )
        for n in range(8)
    ]
    for command in commands:  # all on the topic before the first is answered: a backlog
        await svc.send(command)
    replies = await asyncio.gather(*(svc.reply(c.command_id, PaymentAuthorized) for c in commands))
    assert sorted(r.amount_capturable.amount_minor for r in replies) == [1000 + n for n in range(8)]
