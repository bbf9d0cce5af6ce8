-- Each outbox row remembers which service wrote it (its connection's application_name,
-- `propdesk-<service>`), and the commit notification names it, so a service's relay wakes for
-- its own events only instead of all five relays racing for every commit. The relays' periodic
-- sweep still publishes anyone's rows, so a stopped service's events are not stranded.
ALTER TABLE outbox ADD COLUMN source text NOT NULL DEFAULT current_setting('application_name', true);

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('propdesk_outbox', coalesce(current_setting('application_name', true), ''));
    RETURN NULL;
END $$;
