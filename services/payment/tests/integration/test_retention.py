"""The payment service's retention rule on its real schema: a webhook event id goes long after
Stripe stopped resending it; a recent one stays and still dedupes."""

from __future__ import annotations

import secrets

import pytest

from booking_shared import retention
from booking_shared.db import prepare_database
from payment.adapters.retention import rules
from payment.bootstrap import MIGRATIONS
from payment.config import Settings

DAY = 86400.0


@pytest.fixture(scope="module")
async def db(database_url: str, role_prefix: str):
    settings = Settings(
        database_url=database_url,
        db_schema=f"payret_{secrets.token_hex(3)}",
        db_role_prefix=role_prefix,
        retention_webhook_events_s=4 * DAY,
    )
    pool = await prepare_database(settings, MIGRATIONS)
    yield settings, pool
    await pool.close()


async def test_old_webhook_events_go_and_recent_ones_stay(db):
    settings, pool = db
    old, recent = f"evt_{secrets.token_hex(6)}", f"evt_{secrets.token_hex(6)}"
    for event_id, ago in ((old, 5 * DAY), (recent, 3 * DAY)):
        await pool.execute(
            "INSERT INTO webhook_events (event_id, type, received_at) VALUES ($1, 'charge.refunded', now() - make_interval(secs => $2))",
            event_id,
            ago,
        )
    await pool.execute(
        "INSERT INTO payments (booking_id, customer_id, payment_method_id, authorize_command_id, status, currency,"
        " amount_requested, created_at) VALUES ($1, 'cus_1', 'pm_1', gen_random_uuid(), 'captured', 'EUR', 100, now() - interval '400 days')",
        f"bk_{old}",
    )
    await retention.sweep_once(pool, rules(settings), 100, 10)
    left = {
        r["event_id"]
        for r in await pool.fetch(
            "SELECT event_id FROM webhook_events WHERE event_id = ANY($1)", [old, recent]
        )
    }
    assert left == {recent}
    # The payment is the money's record: never swept.
    assert (
        await pool.fetchval("SELECT count(*) FROM payments WHERE booking_id = $1", f"bk_{old}") == 1
    )
