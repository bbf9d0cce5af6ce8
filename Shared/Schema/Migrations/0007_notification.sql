-- Notification (issue 5): who is on duty, how residents want to hear, and every delivery with
-- each attempt.

-- Who holds each role, for which department (NULL: any), on which days and hours, and how to
-- reach them in order of preference. Contacts name channels and addresses; for webhook and robot
-- channels the address is an endpoint name from configuration, never a URL or a key.
CREATE TABLE duty_roster (
    id          bigserial PRIMARY KEY,
    property    text NOT NULL REFERENCES properties (code),
    role        text NOT NULL,
    department  text,
    person      text NOT NULL,
    language    text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    -- [{"channel": "wecom", "address": "engineering-group"}, {"channel": "sms", "address": "138…"}]
    contacts    jsonb NOT NULL CHECK (jsonb_typeof(contacts) = 'array' AND jsonb_array_length(contacts) > 0),
    -- ISO weekdays the shift starts on (1 = Monday); NULL: every day.
    weekdays    integer[],
    starts      time NOT NULL DEFAULT '00:00',
    -- At or before `starts`: past midnight (equal: all day).
    ends        time NOT NULL DEFAULT '00:00',
    active      boolean NOT NULL DEFAULT true
);
CREATE INDEX duty_roster_property ON duty_roster (property) WHERE active;

-- Residents: an e-mail address and a language for messages (the register has phone, channel and
-- consent already).
ALTER TABLE residents
    ADD COLUMN email text,
    ADD COLUMN language text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en'));

-- One message to one person on one channel. `dedupe_key` (event id / recipient / channel) makes a
-- redelivered event write nothing new. `address` is confidential for residents: never logged.
CREATE TABLE deliveries (
    id           bigserial PRIMARY KEY,
    dedupe_key   text NOT NULL UNIQUE,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    property     text NOT NULL,
    ticket_id    uuid,
    audience     text NOT NULL CHECK (audience IN ('staff', 'resident')),
    recipient    text NOT NULL,
    template     text NOT NULL,
    channel      text NOT NULL,
    address      text NOT NULL,
    -- The person's further contacts, tried in order when this channel gives up.
    fallbacks    jsonb NOT NULL DEFAULT '[]',
    subject      text NOT NULL,
    body         text NOT NULL,
    urgent       boolean NOT NULL DEFAULT false,
    -- pending → sending → sent | pending (retry later) | fell_back (next channel) | failed;
    -- sending found after its lease ran out (the sender died mid-send) → unknown: not sent again.
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sending', 'sent', 'fell_back', 'failed', 'unknown')),
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    last_error   text
);
CREATE INDEX deliveries_due ON deliveries (not_before) WHERE state = 'pending';
CREATE INDEX deliveries_sending ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_ticket ON deliveries (ticket_id);

CREATE TABLE delivery_attempts (
    delivery_id  bigint NOT NULL REFERENCES deliveries (id),
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    outcome      text CHECK (outcome IN ('sent', 'failed', 'unknown')),
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Wake every notification replica's sender when deliveries are written elsewhere.
CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('propdesk.outbox_notify', true), 'on') <> 'off' THEN
        PERFORM pg_notify('propdesk_deliveries', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();
