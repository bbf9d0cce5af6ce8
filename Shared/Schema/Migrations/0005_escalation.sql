-- Escalation (issue 4): calendars, service clocks as data, and deadlines as rows.

-- Working calendars: the days that differ from "Monday to Friday". A property names its calendar
-- (default `cn`, the State Council's notices) and may override opening hours.
CREATE TABLE calendar_days (
    calendar text NOT NULL,
    day      date NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    note     text NOT NULL DEFAULT '',
    PRIMARY KEY (calendar, day)
);

ALTER TABLE properties
    ADD COLUMN calendar text NOT NULL DEFAULT 'cn',
    -- {"reception": {"workday": {"open": "09:00", "close": "21:00"}, "restday": {...}}, "back_office": {...}};
    -- null: the defaults (I5).
    ADD COLUMN opening_hours jsonb;

-- 2025 and 2026: the State Council's notices (国办发明电). Holidays on weekdays and worked weekends.
INSERT INTO calendar_days (calendar, day, kind, note)
SELECT 'cn', d::date, 'holiday', n FROM (VALUES
    ('2025-01-01', '元旦'),
    ('2025-01-28', '春节'), ('2025-01-29', '春节'), ('2025-01-30', '春节'), ('2025-01-31', '春节'),
    ('2025-02-03', '春节'), ('2025-02-04', '春节'),
    ('2025-04-04', '清明节'),
    ('2025-05-01', '劳动节'), ('2025-05-02', '劳动节'), ('2025-05-05', '劳动节'),
    ('2025-06-02', '端午节'),
    ('2025-10-01', '国庆节、中秋节'), ('2025-10-02', '国庆节、中秋节'), ('2025-10-03', '国庆节、中秋节'),
    ('2025-10-06', '国庆节、中秋节'), ('2025-10-07', '国庆节、中秋节'), ('2025-10-08', '国庆节、中秋节'),
    ('2026-01-01', '元旦'), ('2026-01-02', '元旦'),
    ('2026-02-16', '春节'), ('2026-02-17', '春节'), ('2026-02-18', '春节'), ('2026-02-19', '春节'),
    ('2026-02-20', '春节'), ('2026-02-23', '春节'),
    ('2026-04-06', '清明节'),
    ('2026-05-01', '劳动节'), ('2026-05-04', '劳动节'), ('2026-05-05', '劳动节'),
    ('2026-06-19', '端午节'),
    ('2026-09-25', '中秋节'),
    ('2026-10-01', '国庆节'), ('2026-10-02', '国庆节'), ('2026-10-05', '国庆节'), ('2026-10-06', '国庆节'),
    ('2026-10-07', '国庆节')
) AS h(d, n);

INSERT INTO calendar_days (calendar, day, kind, note)
SELECT 'cn', d::date, 'workday', n FROM (VALUES
    ('2025-01-26', '春节调休上班'), ('2025-02-08', '春节调休上班'),
    ('2025-04-27', '劳动节调休上班'),
    ('2025-09-28', '国庆节调休上班'), ('2025-10-11', '国庆节调休上班'),
    ('2026-01-04', '元旦调休上班'),
    ('2026-02-14', '春节调休上班'), ('2026-02-28', '春节调休上班'),
    ('2026-05-09', '劳动节调休上班'),
    ('2026-09-20', '国庆节调休上班'), ('2026-10-10', '国庆节调休上班')
) AS w(d, n);

-- 2027: PROVISIONAL. The notice was not available when this was written: these are the
-- statutory days (全国年节及纪念日放假办法, 2025 revision) that fall on weekdays, plus a weekday
-- in lieu for each that falls on a weekend. No make-up working weekends. Replace with the
-- notice's dates in a later migration.
INSERT INTO calendar_days (calendar, day, kind, note)
SELECT 'cn', d::date, 'holiday', n || '（暂定）' FROM (VALUES
    ('2027-01-01', '元旦'),
    ('2027-02-05', '春节'), ('2027-02-08', '春节'), ('2027-02-09', '春节'), ('2027-02-10', '春节'),
    ('2027-04-05', '清明节'),
    ('2027-05-03', '劳动节'), ('2027-05-04', '劳动节'),
    ('2027-06-09', '端午节'),
    ('2027-09-15', '中秋节'),
    ('2027-10-01', '国庆节'), ('2027-10-04', '国庆节'), ('2027-10-05', '国庆节')
) AS p(d, n);

-- Service clocks (STANDARDS.md), one JSON document per rule (Domain.ClockRule). Rows with a null
-- property are the defaults; a property's own row with the same id replaces the default for it.
-- The escalation service inserts any default that is missing when it starts, and never changes
-- an existing row.
CREATE TABLE sla_rules (
    property   text REFERENCES properties(code),
    id         text NOT NULL,
    rule       jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sla_rules_key ON sla_rules (coalesce(property, ''), id);

-- Deadlines: one row per step of a running clock. Due times are computed when the clock starts
-- and never rewritten by a later policy change.
CREATE TABLE deadlines (
    id          bigserial PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets(id),
    property    text NOT NULL,
    round       integer NOT NULL,
    rule_id     text NOT NULL,
    standard    text NOT NULL,
    title       text NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('escalation', 'follow_up')),
    step        integer NOT NULL CHECK (step >= 1),
    steps       integer NOT NULL CHECK (steps >= step),
    started_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    tell        jsonb NOT NULL,
    -- pending → fired (breached) | met (before due) | cancelled (ticket cancelled)
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'met', 'cancelled')),
    fired_at    timestamptz,
    -- When the clock's condition was met (also for fired steps: how late it was met).
    met_at      timestamptz,
    UNIQUE (ticket_id, round, rule_id, step)
);
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE state = 'pending';
CREATE INDEX deadlines_open ON deadlines (ticket_id) WHERE state IN ('pending', 'fired') AND met_at IS NULL;

-- Wake the timer engines (every replica) when deadlines are added: the payload is the earliest
-- due time of the statement's rows, so an engine sleeping until later wakes at once.
CREATE FUNCTION deadlines_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE earliest timestamptz;
BEGIN
    SELECT min(due_at) INTO earliest FROM added WHERE state = 'pending';
    IF earliest IS NOT NULL THEN
        PERFORM pg_notify('propdesk_deadlines', to_char(earliest AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deadlines_notify AFTER INSERT ON deadlines REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION deadlines_notify();
