-- The gateway's own copy of each user's saved cards: Stripe tokens and display fields only
-- (id, brand, last4, expiry, which one is the default), never a card number. It is written
-- through from every answer the payment service gives about the user's cards (list, save, set
-- default, remove), and a booking reads it, so that a booking is accepted while the payment
-- service is away. No row: never synced yet (the first booking asks the payment service once).
-- depends: 0001_gateway

CREATE TABLE card_copies (
    user_id    text        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    cards      jsonb       NOT NULL,   -- [{id, brand, last4, exp_month, exp_year, is_default}]
    synced_at  timestamptz NOT NULL DEFAULT now()
);
