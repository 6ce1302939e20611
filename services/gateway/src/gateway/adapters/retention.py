"""The gateway's retention rules (booking_shared.retention; policy in docs/RETENTION.md)."""

from __future__ import annotations

from booking_shared.retention import Rule
from gateway.config import Settings
from gateway.domain.states import FINAL

SIGN_IN_BUCKET = "sign_in_failures"  # handlers.sessions.BUCKET (adapters import no handlers)
_FINAL = "ARRAY[" + ", ".join(f"'{s}'" for s in sorted(FINAL)) + "]"


def rate_bucket_refill_s(settings: Settings) -> float:
    """The time an untouched bucket takes to be full again: after it, a missing row (a full
    bucket) and the stored one mean the same, so the row can go."""
    rules = (
        (settings.rate_quotes_capacity, settings.rate_quotes_per_minute),
        (settings.rate_bookings_capacity, settings.rate_bookings_per_minute),
    )
    return max(capacity * 60.0 / per_minute for capacity, per_minute in rules)


def sign_in_bucket_refill_s(settings: Settings) -> float:
    """The same for the failed sign-in buckets (per email, per client), which refill slowly."""
    rules = (
        (settings.sign_in_failures_per_email, settings.sign_in_failures_per_email_per_hour),
        (settings.sign_in_failures_per_client, settings.sign_in_failures_per_client_per_hour),
    )
    return max(capacity * 3600.0 / per_hour for capacity, per_hour in rules)


def rules(settings: Settings) -> list[Rule]:
    return [
        # A used key past its TTL may be claimed afresh anyway (claim_key deletes it then); one
        # left 'processing' by a crash goes once its lock has long run out too.
        Rule(
            "idempotency_keys",
            settings.idempotency_ttl_h * 3600.0,
            "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key FROM idempotency_keys"
            " WHERE created_at < now() - make_interval(secs => $1)"
            "   AND (status = 'done' OR locked_until < now() - make_interval(secs => $1))"
            " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        # A booked quote is the booking's price and consent evidence: only unbooked ones go.
        Rule(
            "quotes",
            settings.retention_quote_after_expiry_s,
            "DELETE FROM quotes WHERE id IN (SELECT q.id FROM quotes q"
            " WHERE q.expires_at < now() - make_interval(secs => $1)"
            "   AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.quote_id = q.id)"
            "   AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.quote_id = q.id)"
            " ORDER BY q.expires_at LIMIT $2 FOR UPDATE OF q SKIP LOCKED)",
        ),
        Rule(
            "rate_buckets",
            rate_bucket_refill_s(settings),
            "DELETE FROM rate_buckets WHERE (user_id, bucket) IN (SELECT user_id, bucket FROM rate_buckets"
            f" WHERE bucket <> '{SIGN_IN_BUCKET}' AND updated_at < now() - make_interval(secs => $1)"
            " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        Rule(
            "sign_in_buckets",
            sign_in_bucket_refill_s(settings),
            "DELETE FROM rate_buckets WHERE (user_id, bucket) IN (SELECT user_id, bucket FROM rate_buckets"
            f" WHERE bucket = '{SIGN_IN_BUCKET}' AND updated_at < now() - make_interval(secs => $1)"
            " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        # A session past its expiry is refused anyway; an hour later its row goes.
        Rule(
            "expired_sessions",
            3600.0,
            "DELETE FROM api_tokens WHERE token_hash IN (SELECT token_hash FROM api_tokens"
            " WHERE kind = 'session' AND expires_at < now() - make_interval(secs => $1)"
            " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        # The request as first sent (its payload holds the sealed guest) is what the reconciler
        # resends while no answer comes; a final booking needs it no more.
        Rule(
            "sent_requests",
            settings.retention_guest_s,
            "DELETE FROM sent_requests WHERE (booking_id, type) IN (SELECT r.booking_id, r.type"
            " FROM sent_requests r JOIN bookings b ON b.id = r.booking_id"
            f" WHERE b.state = ANY({_FINAL}) AND b.updated_at < now() - make_interval(secs => $1)"
            " LIMIT $2 FOR UPDATE OF r SKIP LOCKED)",
        ),
    ]
