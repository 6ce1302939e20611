-- Payment service: Stripe customers and saved cards (tokens and display fields only), one
-- payment per booking, every command's attempt and reply, webhook dedupe, disputes, history.
-- No card number, CVC or full card object is ever stored here.
-- depends: 0000_plumbing

CREATE TABLE customers (
    user_id      text        PRIMARY KEY,
    customer_id  text        NOT NULL UNIQUE CHECK (customer_id ~ '^cus_[A-Za-z0-9_]+$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A display cache of the customer's cards; Stripe stays the source of truth.
CREATE TABLE payment_methods (
    pm_id        text        PRIMARY KEY CHECK (pm_id ~ '^pm_[A-Za-z0-9_]+$'),
    customer_id  text        NOT NULL REFERENCES customers (customer_id),
    brand        text        NOT NULL CHECK (length(brand) <= 32),
    last4        text        NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month    smallint    NOT NULL CHECK (exp_month BETWEEN 0 AND 12),
    exp_year     smallint    NOT NULL,
    is_default   boolean     NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (customer_id) WHERE is_default;

-- One card payment per booking: the current PaymentIntent and what happened to it.
CREATE TABLE payments (
    booking_id            text        PRIMARY KEY,
    customer_id           text        NOT NULL,
    payment_method_id     text        NOT NULL,
    authorize_command_id  uuid        NOT NULL,
    payment_intent_id     text        UNIQUE,
    status                text        NOT NULL CHECK (status IN (
                              'requires_action', 'authorized', 'declined', 'captured',
                              'refunded', 'voided', 'expired', 'failed')),
    currency              text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_requested      bigint      NOT NULL CHECK (amount_requested >= 0),
    amount_authorized     bigint      NOT NULL DEFAULT 0 CHECK (amount_authorized >= 0),
    amount_captured       bigint      NOT NULL DEFAULT 0 CHECK (amount_captured >= 0),
    amount_refunded       bigint      NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    capture_before        timestamptz,
    capture_before_source text        CHECK (capture_before_source IN ('stripe', 'fallback')),
    -- Only while requires_action: the browser needs it to finish 3-D Secure.
    client_secret         text        CHECK (client_secret IS NULL OR status = 'requires_action'),
    decline_code          text,
    failure_code          text,
    disputed              boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_captured <= amount_authorized OR amount_authorized = 0),
    CHECK (amount_refunded <= amount_captured)
);
CREATE INDEX payments_live_holds ON payments (capture_before) WHERE status = 'authorized';

-- Every payment command: the attempt is written (and committed) before Stripe is called, the
-- reply when the handler's transaction commits. 'started' without 'done' means the process died
-- in between: the next delivery reconciles with Stripe before calling it again.
CREATE TABLE commands (
    command_id        uuid        PRIMARY KEY,
    booking_id        text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
    status            text        NOT NULL CHECK (status IN ('started', 'done')),
    request           jsonb       NOT NULL,
    attempts          integer     NOT NULL DEFAULT 0,
    payment_intent_id text,
    -- The command's envelope, so that a later answer (a webhook after 3-D Secure) stays in its trace.
    message_id        uuid,
    traceparent       text,
    reply_type        text,
    reply_payload     text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CHECK (status = 'started' OR reply_type IS NOT NULL)
);
CREATE INDEX commands_booking ON commands (booking_id);
CREATE INDEX commands_unfinished ON commands (started_at) WHERE status = 'started';

-- Stripe webhook events already applied (dedupe by event id). The payload is not kept.
CREATE TABLE webhook_events (
    event_id     text        PRIMARY KEY,
    type         text        NOT NULL,
    object_id    text,
    booking_id   text,
    created      timestamptz,
    outcome      text,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- Chargebacks, for operators (Stripe's dispute flow happens in its dashboard).
CREATE TABLE disputes (
    dispute_id        text        PRIMARY KEY,
    booking_id        text,
    payment_intent_id text,
    charge_id         text,
    amount_minor      bigint,
    currency          text,
    reason            text,
    status            text,
    event_id          text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disputes_booking ON disputes (booking_id);

-- Every change of a payment's status, with what caused it: a row an operator can query.
CREATE TABLE payment_history (
    id                bigserial   PRIMARY KEY,
    booking_id        text        NOT NULL,
    payment_intent_id text,
    from_status       text,
    to_status         text        NOT NULL,
    cause             text        NOT NULL,  -- command:<kind>:<command_id> | webhook:<type>:<event_id>
    detail            text,
    at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_history_booking ON payment_history (booking_id, id);
