-- Booking orchestrator: one row per saga, its items and steps, every message in and out,
-- persisted deadlines, messages parked while a saga is paused, and the provider directory.
-- depends: 0000_plumbing

CREATE TABLE sagas (
    booking_id          text        PRIMARY KEY,
    user_id             text        NOT NULL,
    quote_id            text        NOT NULL,
    mode                text        NOT NULL CHECK (mode IN ('all_or_nothing', 'best_effort')),
    state               text        NOT NULL,
    paused              boolean     NOT NULL DEFAULT false,
    definition_version  integer     NOT NULL,
    version             integer     NOT NULL DEFAULT 0,
    currency            text        NOT NULL,
    total_minor         bigint      NOT NULL,
    customer_id         text        NOT NULL,
    payment_method_id   text        NOT NULL,
    guest               text        NOT NULL,  -- sealed by the gateway; only providers can open it
    payment_intent_id   text,
    authorized_minor    bigint,
    captured_minor      bigint,
    refunded_minor      bigint,
    capture_before      timestamptz,
    client_secret       text,
    voided              boolean     NOT NULL DEFAULT false,
    failure_reasons     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    unwinding           text,
    compensation_stage  text,
    cancel_requested    boolean     NOT NULL DEFAULT false,
    requested_at        timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    state_changed_at    timestamptz NOT NULL
);
CREATE INDEX sagas_state_updated ON sagas (state, updated_at);
CREATE INDEX sagas_user ON sagas (user_id, created_at);

CREATE TABLE saga_items (
    booking_id          text        NOT NULL REFERENCES sagas (booking_id),
    item_id             text        NOT NULL,
    position            integer     NOT NULL,
    provider            text        NOT NULL,
    booking_type        text        NOT NULL,
    commands_topic      text        NOT NULL,
    hold_capable        boolean     NOT NULL,
    hold_ttl_s          integer,
    spec                jsonb       NOT NULL,
    price_minor         bigint      NOT NULL,
    currency            text        NOT NULL,
    status              text        NOT NULL,
    exposure            text        NOT NULL,
    hold_id             text,
    hold_expires_at     timestamptz,
    confirmation_code   text,
    partner_reference   text,
    cancellation_policy jsonb,
    refund_minor        bigint,
    fee_minor           bigint,
    failure             jsonb,
    PRIMARY KEY (booking_id, item_id)
);

CREATE TABLE saga_steps (
    booking_id    text        NOT NULL REFERENCES sagas (booking_id),
    name          text        NOT NULL,
    kind          text        NOT NULL,
    phase         text        NOT NULL,
    item_id       text,
    status        text        NOT NULL,
    command_id    uuid        NOT NULL UNIQUE,
    command_type  text        NOT NULL,
    command       jsonb       NOT NULL,
    attempts      integer     NOT NULL,
    deadline_at   timestamptz,
    reply         text,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (booking_id, name)
);

-- Every deadline of a saga (open steps and the saga's own timers, named timer:<name>).
-- The deadline worker locks the saga row (FOR UPDATE SKIP LOCKED) before firing them.
CREATE TABLE deadlines (
    booking_id  text        NOT NULL REFERENCES sagas (booking_id),
    name        text        NOT NULL,
    due_at      timestamptz NOT NULL,
    PRIMARY KEY (booking_id, name)
);
CREATE INDEX deadlines_due ON deadlines (due_at);

-- Every message in and out, and every operator action, with its time.
CREATE TABLE saga_history (
    id          bigserial   PRIMARY KEY,
    booking_id  text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    direction   text        NOT NULL CHECK (direction IN ('in', 'out', 'action')),
    topic       text,
    type        text        NOT NULL,
    message_id  uuid,
    summary     text        NOT NULL DEFAULT ''
);
CREATE INDEX saga_history_booking ON saga_history (booking_id, id);

-- Messages that arrived while the saga was paused; applied in order on resume.
CREATE TABLE parked_messages (
    id          bigserial   PRIMARY KEY,
    booking_id  text        NOT NULL REFERENCES sagas (booking_id),
    topic       text        NOT NULL,
    type        text        NOT NULL,
    message_id  uuid        NOT NULL,
    payload     text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_messages_booking ON parked_messages (booking_id, id);

-- What each provider announced on provider.registry.v1: routing reads capabilities, not names.
CREATE TABLE providers (
    name            text        PRIMARY KEY,
    booking_types   text[]      NOT NULL,
    capabilities    jsonb       NOT NULL,
    commands_topic  text        NOT NULL,
    replies_topic   text        NOT NULL,
    announced_at    timestamptz NOT NULL,
    message_id      uuid        NOT NULL
);
