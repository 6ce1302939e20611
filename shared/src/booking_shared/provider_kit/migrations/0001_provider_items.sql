-- Provider services: what we booked at the partner, per booking item, and every command's reply.
-- depends: 0000_plumbing

CREATE TABLE items (
    booking_id          text        NOT NULL,
    item_id             text        NOT NULL,
    item                jsonb       NOT NULL,
    status              text        NOT NULL,   -- HELD PENDING CONFIRMED REJECTED CANCELLED FAILED
    partner_status      text,
    hold_id             text,
    hold_expires_at     timestamptz,
    partner_reference   text,
    confirmation_code   text,
    price_minor         bigint,
    currency            text,
    cancellation_policy jsonb,
    refund_minor        bigint,
    fee_minor           bigint,
    reason_code         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (booking_id, item_id)
);
CREATE INDEX items_live_holds ON items (hold_expires_at) WHERE status = 'HELD';

CREATE TABLE commands (
    command_id    uuid        PRIMARY KEY,
    booking_id    text        NOT NULL,
    item_id       text        NOT NULL,
    command_type  text        NOT NULL,
    reply_type    text        NOT NULL,
    reply_payload text        NOT NULL,
    handled_at    timestamptz NOT NULL DEFAULT now()
);
