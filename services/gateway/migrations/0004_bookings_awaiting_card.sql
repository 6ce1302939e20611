-- Bookings accepted while the gateway could not tell which card to use: the user has no copy of
-- their cards here (card_copies) and the payment service did not answer. The booking is written
-- (consent recorded, REQUESTED, no card yet) and its BookingRequested waits in this table until
-- the payment service answers with the user's cards (handlers/card_wait.py, run by the
-- reconciler); then it is published with the chosen card, or the booking fails with a reason.
-- A row lives seconds to minutes: it is deleted when the card is chosen or the booking fails.
-- depends: 0003_card_copies

ALTER TABLE bookings ALTER COLUMN payment_method_id DROP NOT NULL;  -- null while awaiting its card

CREATE TABLE bookings_awaiting_card (
    booking_id        text        PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    user_id           text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id       text        NOT NULL,   -- Stripe customer (cus_...)
    wanted_card_id    text,                   -- the payment_method_id asked for; null: the default
    request           jsonb       NOT NULL,   -- BookingRequested without `payment` (guest sealed)
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_tried_at     timestamptz,
    attempts          integer     NOT NULL DEFAULT 0
);
CREATE INDEX bookings_awaiting_card_age ON bookings_awaiting_card (created_at);
