-- Indexes the retention sweeper (booking_shared.retention) walks, oldest first, so that a batch
-- delete reads only the rows it removes.
-- depends: 0001_plumbing_outbox_parking

CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX inbox_handled ON inbox (handled_at);
CREATE INDEX dead_letters_created ON dead_letters (created_at);
