"""The gateway's retention rules on its real schema: expired quotes never booked, used
Idempotency-Keys, refilled rate buckets and the requests of long-final bookings go; everything
still needed (a booked quote, a young or in-flight key, a draining bucket, a live booking's
request) stays."""

from __future__ import annotations

import secrets

import pytest

from booking_shared import retention
from booking_shared.db import prepare_database
from gateway.adapters.retention import rate_bucket_refill_s, rules, sign_in_bucket_refill_s
from gateway.bootstrap import MIGRATIONS
from gateway.config import Settings

HOUR = 3600.0


@pytest.fixture(scope="module")
async def db(database_url: str, role_prefix: str):
    name = secrets.token_hex(3)
    settings = Settings(
        database_url=database_url,
        db_schema=f"gwret_{name}",
        db_role_prefix=role_prefix,
        idempotency_ttl_h=1.0,
        retention_quote_after_expiry_s=HOUR,
        retention_guest_s=HOUR,
    )
    pool = await prepare_database(settings, MIGRATIONS)
    yield settings, pool
    await pool.close()


async def sweep(db) -> dict[str, int]:
    settings, pool = db
    return await retention.sweep_once(pool, rules(settings), 100, 10)


async def user(pool) -> str:
    uid = f"u_{secrets.token_hex(4)}"
    await pool.execute(
        "INSERT INTO users (id, name, email, preferences) VALUES ($1, 'Ana', $2, '{}'::jsonb)",
        uid,
        f"{uid}@example.com",
    )
    return uid


async def quote(pool, uid: str, *, expired_ago_s: float) -> str:
    qid = f"q_{secrets.token_hex(4)}"
    await pool.execute(
        "INSERT INTO quotes (id, user_id, lines, total_minor, currency, consent, expires_at)"
        " VALUES ($1, $2, '[]'::jsonb, 100, 'EUR', '{}'::jsonb, now() - make_interval(secs => $3))",
        qid,
        uid,
        expired_ago_s,
    )
    return qid


async def booking(pool, uid: str, qid: str, *, state: str, changed_ago_s: float) -> str:
    bid = f"bk_{secrets.token_hex(4)}"
    await pool.execute(
        "INSERT INTO bookings (id, user_id, quote_id, mode, state, total_minor, currency, payment_method_id, items,"
        " created_at, updated_at) VALUES ($1, $2, $3, 'all_or_nothing', $4, 100, 'EUR', 'pm_x', '[]'::jsonb,"
        " now() - make_interval(secs => $5), now() - make_interval(secs => $5))",
        bid,
        uid,
        qid,
        state,
        changed_ago_s,
    )
    await pool.execute(
        "INSERT INTO sent_requests (booking_id, type, topic, headers, payload) VALUES ($1, 'BookingRequested',"
        " 'booking.events.v1', '{}'::jsonb, '{\"guest\": \"gAAAA-sealed\"}')",
        bid,
    )
    return bid


async def test_expired_quotes_never_booked_go_and_booked_or_live_ones_stay(db):
    _, pool = db
    uid = await user(pool)
    stale = await quote(pool, uid, expired_ago_s=2 * HOUR)
    recent = await quote(pool, uid, expired_ago_s=60)  # expired, within the hour after expiry
    live = await quote(pool, uid, expired_ago_s=-600)
    booked = await quote(pool, uid, expired_ago_s=2 * HOUR)
    await booking(pool, uid, booked, state="CONFIRMED", changed_ago_s=60)
    await sweep(db)
    left = {r["id"] for r in await pool.fetch("SELECT id FROM quotes WHERE user_id = $1", uid)}
    assert left == {recent, live, booked}
    assert stale not in left


async def test_used_keys_go_after_their_ttl_and_young_or_in_flight_ones_stay(db):
    _, pool = db
    uid = await user(pool)
    for key, status, created_ago, locked_ago in [
        ("old-done", "done", 2 * HOUR, 2 * HOUR),
        ("young-done", "done", 60, 60),
        ("old-in-flight", "processing", 2 * HOUR, -30),  # still locked by a running request
        ("old-abandoned", "processing", 3 * HOUR, 2 * HOUR),  # a crash left it long ago
    ]:
        await pool.execute(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, created_at, locked_until)"
            " VALUES ($1, $2, 'fp', $3, now() - make_interval(secs => $4), now() - make_interval(secs => $5))",
            uid,
            key,
            status,
            created_ago,
            locked_ago,
        )
    await sweep(db)
    left = {
        r["key"]
        for r in await pool.fetch("SELECT key FROM idempotency_keys WHERE user_id = $1", uid)
    }
    assert left == {"young-done", "old-in-flight"}


async def test_a_rate_bucket_goes_only_once_it_would_be_full_again(db):
    settings, pool = db
    refill = rate_bucket_refill_s(settings)
    assert refill == 60.0  # 20 per minute with a burst of 20; 5 per minute with a burst of 5
    uid = await user(pool)
    for bucket, ago in (("quotes", refill + 5), ("bookings", refill - 20)):
        await pool.execute(
            "INSERT INTO rate_buckets (user_id, bucket, tokens, updated_at) VALUES ($1, $2, 0, now() - make_interval(secs => $3))",
            uid,
            bucket,
            ago,
        )
    await sweep(db)
    left = {
        r["bucket"]
        for r in await pool.fetch("SELECT bucket FROM rate_buckets WHERE user_id = $1", uid)
    }
    assert left == {"bookings"}


async def test_the_sent_request_with_the_sealed_guest_goes_once_the_booking_is_long_final(db):
    _, pool = db
    uid = await user(pool)
    done = await booking(
        pool, uid, await quote(pool, uid, expired_ago_s=0), state="FAILED", changed_ago_s=2 * HOUR
    )
    fresh = await booking(
        pool, uid, await quote(pool, uid, expired_ago_s=0), state="CONFIRMED", changed_ago_s=60
    )
    live = await booking(
        pool, uid, await quote(pool, uid, expired_ago_s=0), state="HOLDING", changed_ago_s=3 * HOUR
    )
    await sweep(db)
    left = {
        r["booking_id"]
        for r in await pool.fetch(
            "SELECT booking_id FROM sent_requests WHERE booking_id = ANY($1)", [done, fresh, live]
        )
    }
    assert left == {fresh, live}
    # The booking itself is the person's record: it stays.
    assert await pool.fetchval("SELECT count(*) FROM bookings WHERE id = $1", done) == 1


async def test_expired_sessions_go_an_hour_later_while_api_keys_and_live_sessions_stay(db):
    _, pool = db
    uid = await user(pool)

    async def token(kind: str, expired_ago_s: float) -> str:
        digest = secrets.token_hex(32)
        await pool.execute(
            "INSERT INTO api_tokens (token_hash, user_id, kind, expires_at)"
            " VALUES ($1, $2, $3, now() - make_interval(secs => $4))",
            digest,
            uid,
            kind,
            expired_ago_s,
        )
        return digest

    old_session = await token("session", 2 * HOUR)
    just_expired = await token("session", 60)
    live_session = await token("session", -HOUR)
    old_key = await token("api_key", 2 * HOUR)
    await sweep(db)
    left = {
        r["token_hash"]
        for r in await pool.fetch("SELECT token_hash FROM api_tokens WHERE user_id = $1", uid)
    }
    assert left == {just_expired, live_session, old_key}
    assert old_session not in left


async def test_a_failed_sign_in_bucket_goes_once_it_would_be_full_again(db):
    settings, pool = db
    refill = sign_in_bucket_refill_s(settings)
    assert refill == 25 * 60.0  # 5 per email, 12 an hour back; 20 per client, 60 an hour
    keys = {"sign-in:email:drained": refill + 5, "sign-in:email:refilling": refill - 60}
    for key, ago in keys.items():
        await pool.execute(
            "INSERT INTO rate_buckets (user_id, bucket, tokens, updated_at)"
            " VALUES ($1, 'sign_in_failures', 0, now() - make_interval(secs => $2))",
            key + secrets.token_hex(3),
            ago,
        )
    await sweep(db)
    left = await pool.fetch("SELECT user_id FROM rate_buckets WHERE bucket = 'sign_in_failures'")
    assert [r["user_id"].startswith("sign-in:email:refilling") for r in left] == [True]
