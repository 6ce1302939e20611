-- Sagas whose sealed guest is still kept, by age: what the retention sweeper wipes once the
-- saga is over (orchestrator.adapters.retention; docs/RETENTION.md).
-- depends: 0001_sagas

CREATE INDEX sagas_guest_kept ON sagas (updated_at) WHERE guest <> '';
