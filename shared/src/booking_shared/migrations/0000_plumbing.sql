-- The messaging plumbing every service has in its own schema: outbox, inbox, dead letters.
-- depends:

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    msg_key     text,
    headers     jsonb       NOT NULL,
    payload     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    topic        text        NOT NULL,
    message_type text        NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer,
    "offset"    bigint,
    message_id  text,
    message_type text,
    attempts    integer     NOT NULL,
    error       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
