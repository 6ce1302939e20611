"""Prometheus metrics of the plumbing, served at /metrics by every service."""

from prometheus_client import Counter, Gauge

MESSAGES_HANDLED = Counter(
    "booking_messages_handled_total", "Messages consumed, by consumer, type and outcome", ["consumer", "type", "outcome"]
)
MESSAGES_DEAD = Counter("booking_messages_dead_lettered_total", "Messages sent to a DLQ", ["consumer", "type"])
OUTBOX_PENDING = Gauge("booking_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_PARKED = Gauge(
    "booking_outbox_parked", "Outbox rows given up after repeated refusals (need an operator)", ["service"]
)
FETCH_WAIT_MS = Gauge("booking_kafka_fetch_wait_ms", "The consumer's current fetch wait (short while busy)", ["service"])
