-- Indexes the retention sweeper walks (gateway.adapters.retention; docs/RETENTION.md).
-- depends: 0001_gateway

CREATE INDEX quotes_expires ON quotes (expires_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX rate_buckets_updated ON rate_buckets (updated_at);
