-- The relay's wake-up: one NOTIFY per inserting statement, sent by Postgres at commit (and only
-- if the transaction commits), instead of a `SELECT pg_notify(...)` round trip after every
-- outbox row. The channel is the schema's (booking_shared.outbox.channel).
-- depends: 0002_plumbing_retention

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
