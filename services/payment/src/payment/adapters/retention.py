"""The payment service's retention rules (booking_shared.retention; policy in docs/RETENTION.md).
Payments, commands and their history are the money's record and stay; a webhook event id is
only needed while Stripe may still deliver the event again (3 days), so it goes long after."""

from __future__ import annotations

from booking_shared.retention import Rule
from payment.config import Settings


def rules(settings: Settings) -> list[Rule]:
    return [
        Rule(
            "webhook_events",
            settings.retention_webhook_events_s,
            "DELETE FROM webhook_events WHERE event_id IN (SELECT event_id FROM webhook_events"
            " WHERE received_at < now() - make_interval(secs => $1)"
            " ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
    ]
