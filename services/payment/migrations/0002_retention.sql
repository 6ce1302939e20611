-- Webhook events by age, for the retention sweeper (payment.adapters.retention; docs/RETENTION.md).
-- depends: 0001_payment

CREATE INDEX webhook_events_received ON webhook_events (received_at);
