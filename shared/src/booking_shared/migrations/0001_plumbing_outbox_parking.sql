-- The outbox relay handles errors per row: a row that cannot be published waits (retry_at) and,
-- after too many attempts, is parked for operators instead of blocking its key for ever.
-- depends: 0000_plumbing

ALTER TABLE outbox ADD COLUMN retry_at timestamptz;
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;

DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL AND parked_at IS NULL;
-- Rows waiting for a retry: the relay holds back later rows of the same topic and key.
CREATE INDEX outbox_waiting ON outbox (topic, msg_key, id) WHERE sent_at IS NULL AND parked_at IS NULL AND retry_at IS NOT NULL;
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL AND sent_at IS NULL;
