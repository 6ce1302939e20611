"""Prometheus metrics of the gateway (served at /metrics with the plumbing's)."""

from prometheus_client import Counter

BOOKINGS_REQUESTED = Counter(
    "gateway_bookings_requested_total", "Bookings accepted (202), by consent basis", ["basis"]
)
BOOKINGS_REFUSED = Counter(
    "gateway_bookings_refused_total", "Bookings refused for consent, by reason code", ["reason"]
)
IDEMPOTENT_REPLAYS = Counter(
    "gateway_idempotent_replays_total", "Answers replayed for a repeated Idempotency-Key"
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused with 429, by bucket", ["bucket"]
)
PROVIDER_MISSING = Counter(
    "gateway_search_provider_missing_total",
    "Searches a provider did not answer in time",
    ["provider"],
)
REQUESTS_RESENT = Counter(
    "gateway_requests_resent_total",
    "Booking or cancellation requests sent again because the saga never answered, by type",
    ["type"],
)
REQUESTS_UNANSWERED = Counter(
    "gateway_requests_unanswered_total",
    "Requests given up after every resend (left to operators), by type",
    ["type"],
)
SIGN_INS = Counter(
    "gateway_sign_ins_total",
    "Sign-ins with email and password, by outcome (ok, refused, rate_limited)",
    ["outcome"],
)
CARD_WAITS = Counter(
    "gateway_card_waits_total",
    "Bookings accepted before their card could be chosen (the payment service away), by what"
    " became of them: waiting, sent (published with the card), or the failure code",
    ["outcome"],
)
