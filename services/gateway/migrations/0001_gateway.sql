-- The gateway's schema: users and their hashed tokens, quotes, bookings with their consent
-- evidence, the booking projection fed by saga.state.v1 and booking.events.v1, idempotency
-- keys and rate-limit buckets.
-- depends: 0000_plumbing

CREATE TABLE users (
    id                 text PRIMARY KEY,
    name               text        NOT NULL,
    email              text        NOT NULL,
    phone              text,
    role               text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'ops')),
    preferences        jsonb       NOT NULL,
    stripe_customer_id text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Only the SHA-256 of a bearer token is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    token_hash  text PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE quotes (
    id          text PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES users (id),
    lines       jsonb       NOT NULL,
    total_minor bigint      NOT NULL,
    currency    text        NOT NULL,
    consent     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX quotes_user ON quotes (user_id, created_at DESC);

-- One row per booking: what was asked, and the projection of what happened since.
CREATE TABLE bookings (
    id                        text PRIMARY KEY,
    user_id                   text        NOT NULL REFERENCES users (id),
    quote_id                  text        NOT NULL UNIQUE REFERENCES quotes (id),
    mode                      text        NOT NULL,
    state                     text        NOT NULL,
    saga_state                text,
    outcome                   text,
    total_minor               bigint      NOT NULL,
    currency                  text        NOT NULL,
    payment_method_id         text        NOT NULL,
    items                     jsonb       NOT NULL,
    confirmed_items           jsonb       NOT NULL DEFAULT '[]',
    failure_reasons           jsonb       NOT NULL DEFAULT '[]',
    refunds                   jsonb       NOT NULL DEFAULT '[]',
    amount_captured_minor     bigint,
    amount_refunded_minor     bigint,
    cancellation_requested_at timestamptz,
    cancellation_reason       text,
    confirmed_at              timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_user ON bookings (user_id, created_at DESC, id DESC);
CREATE INDEX bookings_user_state ON bookings (user_id, state);

-- Every state change of a booking, in order: what the SSE stream replays and follows.
CREATE TABLE booking_timeline (
    id           bigserial PRIMARY KEY,
    booking_id   text        NOT NULL REFERENCES bookings (id),
    type         text        NOT NULL,
    state        text        NOT NULL,
    data         jsonb       NOT NULL DEFAULT '{}',
    message_id   uuid,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_timeline_booking ON booking_timeline (booking_id, id);

-- Consent evidence: who agreed to what, when, on which basis, from where.
CREATE TABLE consents (
    id                    bigserial PRIMARY KEY,
    booking_id            text        NOT NULL UNIQUE REFERENCES bookings (id),
    user_id               text        NOT NULL REFERENCES users (id),
    quote_id              text        NOT NULL REFERENCES quotes (id),
    amount_minor          bigint      NOT NULL,
    currency              text        NOT NULL,
    mode                  text        NOT NULL,
    basis                 text        NOT NULL,
    confirmed_explicitly  boolean     NOT NULL,
    preferences           jsonb       NOT NULL,
    decision              jsonb       NOT NULL,
    user_agent            text,
    ip                    text,
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- Idempotency-Key records: 'processing' while the first request runs, then its response.
CREATE TABLE idempotency_keys (
    user_id          text        NOT NULL,
    key              text        NOT NULL,
    fingerprint      text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('processing', 'done')),
    response_status  integer,
    response_body    jsonb,
    response_headers jsonb,
    resource_id      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE rate_buckets (
    user_id    text             NOT NULL,
    bucket     text             NOT NULL,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL,
    PRIMARY KEY (user_id, bucket)
);
