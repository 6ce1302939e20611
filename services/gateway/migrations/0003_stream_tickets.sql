-- Single-use, short-lived tickets for the booking event stream. A browser's EventSource cannot
-- send an Authorization header, so the page asks for a ticket with its bearer token and opens
-- the stream with it in the URL: only the SHA-256 is kept, it works once, for one booking of
-- one user, for STREAM_TICKET_TTL_S.
-- depends: 0001_gateway

CREATE TABLE stream_tickets (
    ticket_hash text PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    booking_id  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
