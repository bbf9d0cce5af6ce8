-- A service's relay is woken inside its own process when the service commits outbox rows, so
-- those commits need no NOTIFY: the global notification lock at commit and the wake-up of every
-- listening session cost more than the insert itself. Services' sessions set
-- `propdesk.outbox_notify = off`; any other writer (psql, a script, an older service) still
-- notifies, and the relays' periodic sweep covers the rest.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('propdesk.outbox_notify', true), '') <> 'off' THEN
        PERFORM pg_notify('propdesk_outbox', coalesce(current_setting('application_name', true), ''));
    END IF;
    RETURN NULL;
END $$;
