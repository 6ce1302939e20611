"""The orchestrator's retention rules on its real schema: a settled saga's sealed guest is
wiped (row and ConfirmItem commands) and a long-final saga's history goes; a saga that can
still move (a deadline, paused, not settled) keeps both, and a wiped saga still loads."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import pytest

from booking_shared import retention
from booking_shared.db import prepare_database
from orchestrator.adapters.repository import SagaRepository
from orchestrator.adapters.retention import rules
from orchestrator.bootstrap import MIGRATIONS
from orchestrator.config import Settings

HOUR = 3600.0
EXAMPLES = Path(__file__).resolve().parents[4] / "shared/src/booking_shared/contracts/examples"


@pytest.fixture(scope="module")
async def db(database_url: str, role_prefix: str):
    name = secrets.token_hex(3)
    settings = Settings(
        database_url=database_url,
        db_schema=f"orret_{name}",
        db_role_prefix=role_prefix,
        retention_history_s=HOUR,
        retention_history_confirmed_s=2 * HOUR,
        retention_guest_s=HOUR,
    )
    pool = await prepare_database(settings, MIGRATIONS)
    yield settings, pool
    await pool.close()


async def saga(
    pool, state: str, *, changed_ago_s: float, deadline: bool = False, paused: bool = False
) -> str:
    bid = f"bk_{secrets.token_hex(4)}"
    await pool.execute(
        "INSERT INTO sagas (booking_id, user_id, quote_id, mode, state, paused, definition_version, currency,"
        " total_minor, customer_id, payment_method_id, guest, requested_at, created_at, updated_at, state_changed_at)"
        " VALUES ($1, 'u_1', 'q_1', 'all_or_nothing', $2, $3, 1, 'EUR', 100, 'cus_1', 'pm_1', 'gAAAA-sealed-guest',"
        " now() - make_interval(secs => $4), now() - make_interval(secs => $4), now() - make_interval(secs => $4),"
        " now() - make_interval(secs => $4))",
        bid,
        state,
        paused,
        changed_ago_s,
    )
    command = json.loads((EXAMPLES / "ConfirmItem.json").read_text())
    command.update(booking_id=bid, command_id=str(uuid.uuid4()), guest="gAAAA-sealed-guest")
    await pool.execute(
        "INSERT INTO saga_steps (booking_id, name, kind, phase, item_id, status, command_id, command_type, command,"
        " attempts, created_at) VALUES ($1, 'confirm:i1', 'confirm', 'forward', 'i1', 'DONE', $2, 'ConfirmItem', $3::jsonb, 1, now())",
        bid,
        uuid.UUID(command["command_id"]),
        json.dumps(command),
    )
    for i in range(3):
        await pool.execute(
            "INSERT INTO saga_history (booking_id, direction, type, at) VALUES ($1, 'in', $2, now() - make_interval(secs => $3))",
            bid,
            f"T{i}",
            changed_ago_s,
        )
    if deadline:
        await pool.execute(
            "INSERT INTO deadlines (booking_id, name, due_at) VALUES ($1, 'timer:x', now())", bid
        )
    return bid


async def state_of(pool, bid: str) -> tuple[str, str, int]:
    guest = await pool.fetchval("SELECT guest FROM sagas WHERE booking_id = $1", bid)
    step_guest = await pool.fetchval(
        "SELECT command->>'guest' FROM saga_steps WHERE booking_id = $1", bid
    )
    history = await pool.fetchval("SELECT count(*) FROM saga_history WHERE booking_id = $1", bid)
    return guest, step_guest, history


async def test_old_settled_sagas_lose_the_guest_and_final_ones_their_history(db):
    settings, pool = db
    failed_old = await saga(pool, "FAILED", changed_ago_s=3 * HOUR)
    confirmed_mid = await saga(
        pool, "CONFIRMED", changed_ago_s=1.5 * HOUR
    )  # guest due, history not yet
    confirmed_old = await saga(pool, "CONFIRMED", changed_ago_s=3 * HOUR)
    cancelled_young = await saga(pool, "CANCELLED", changed_ago_s=60)
    done = await retention.sweep_once(pool, rules(settings), 100, 10)
    assert done["saga_guest"] >= 3 and done["saga_history"] >= 3
    assert await state_of(pool, failed_old) == ("", "", 0)
    assert await state_of(pool, confirmed_mid) == ("", "", 3)
    assert await state_of(pool, confirmed_old) == ("", "", 0)
    assert await state_of(pool, cancelled_young) == ("gAAAA-sealed-guest", "gAAAA-sealed-guest", 3)
    # The saga row and its steps stay: the booking's record.
    assert (
        await pool.fetchval("SELECT count(*) FROM saga_steps WHERE booking_id = $1", failed_old)
        == 1
    )


async def test_a_saga_that_can_still_move_keeps_its_guest_and_history(db):
    settings, pool = db
    in_flight = await saga(pool, "CONFIRMING", changed_ago_s=3 * HOUR)
    with_deadline = await saga(pool, "FAILED", changed_ago_s=3 * HOUR, deadline=True)
    paused = await saga(pool, "COMPENSATION_FAILED", changed_ago_s=3 * HOUR, paused=True)
    await retention.sweep_once(pool, rules(settings), 100, 10)
    for bid in (in_flight, with_deadline, paused):
        assert await state_of(pool, bid) == ("gAAAA-sealed-guest", "gAAAA-sealed-guest", 3), bid


async def test_a_saga_whose_guest_was_wiped_still_loads(db):
    settings, pool = db
    bid = await saga(pool, "CONFIRMED", changed_ago_s=3 * HOUR)
    await pool.execute(
        "INSERT INTO saga_items (booking_id, item_id, position, provider, booking_type, commands_topic, hold_capable,"
        " spec, price_minor, currency, status, exposure) SELECT $1, 'i1', 0, 'opentable', 'restaurant',"
        " 'provider.opentable.commands.v1', true, command->'item', 100, 'EUR', 'CONFIRMED', 'booking'"
        " FROM saga_steps WHERE booking_id = $1",
        bid,
    )
    await retention.sweep_once(pool, rules(settings), 100, 10)
    async with pool.acquire() as conn:
        loaded = await SagaRepository(conn).load(bid, lock=False)
    assert loaded is not None and loaded.guest == ""
    assert next(iter(loaded.steps.values())).command.guest == ""
