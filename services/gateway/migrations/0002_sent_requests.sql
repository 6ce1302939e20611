-- What the gateway asked the saga for (BookingRequested, BookingCancellationRequested), kept so
-- that the reconciler can send it again when no sign of an answer comes (a message lost in the
-- broker or dead-lettered): the same payload and booking id, a new message id (the first one
-- may already be claimed in the orchestrator's inbox), caused by the first send.
-- depends: 0001_gateway

CREATE TABLE sent_requests (
    booking_id    text        NOT NULL REFERENCES bookings (id),
    type          text        NOT NULL,
    topic         text        NOT NULL,
    headers       jsonb       NOT NULL,   -- the first send's envelope
    payload       text        NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    resends       integer     NOT NULL DEFAULT 0,
    last_sent_at  timestamptz NOT NULL DEFAULT now(),
    abandoned_at  timestamptz,            -- resends exhausted with no answer: left to operators
    PRIMARY KEY (booking_id, type)
);
CREATE INDEX sent_requests_open ON sent_requests (last_sent_at) WHERE abandoned_at IS NULL;
