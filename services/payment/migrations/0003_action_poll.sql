-- Payments waiting for 3-D Secure, oldest first, for the poll that reads them back from Stripe
-- (payment.handlers.check_waiting_payments). Partial: only the few that wait are indexed.
-- depends: 0002_retention

CREATE INDEX payments_waiting_for_action ON payments (updated_at) WHERE status = 'requires_action';
