-- F5 (issue 17): satisfaction surveys by sample. A survey is drawn from the residents register
-- (households: a property's distinct building and unit, each reached through a resident who
-- consents to be contacted), and the sample is recorded: quarterly at least 20% of households,
-- an annual 10–25% sample, a new estate's first round at least 90%. No household is drawn twice
-- within 365 days (the draw leaves them out, and the trigger refuses it whoever asks). The
-- desk's calls take the next household (never in residents' quiet hours) and record the answer.
CREATE TABLE surveys (
    id         uuid PRIMARY KEY,
    property   text NOT NULL REFERENCES properties (code),
    kind       text NOT NULL CHECK (kind IN ('quarterly', 'annual', 'first_round')),
    period     text NOT NULL,
    share      integer NOT NULL CHECK (share BETWEEN 1 AND 100),
    -- The register when the sample was drawn: every household, and those that could be drawn.
    households integer NOT NULL,
    eligible   integer NOT NULL,
    drawn      integer NOT NULL,
    drawn_by   uuid NOT NULL REFERENCES staff (id),
    drawn_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (property, kind, period)
);

CREATE TABLE survey_households (
    id          uuid PRIMARY KEY,
    survey_id   uuid NOT NULL REFERENCES surveys (id),
    property    text NOT NULL REFERENCES properties (code),
    building    text NOT NULL,
    unit        text NOT NULL,
    -- Who is called: a resident of the household who consents to contact, the owner first.
    resident_id uuid NOT NULL REFERENCES residents (id),
    drawn_at    timestamptz NOT NULL DEFAULT now(),
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'answered', 'refused', 'unreachable')),
    -- The desk member calling now (claimed for 30 minutes), so two desks call different households.
    claimed_by  uuid REFERENCES staff (id),
    claimed_at  timestamptz,
    satisfaction integer CHECK (satisfaction BETWEEN 1 AND 5),
    comments    text,
    answered_at timestamptz,
    answered_by uuid REFERENCES staff (id),
    UNIQUE (survey_id, building, unit),
    CHECK ((state = 'answered') = (satisfaction IS NOT NULL))
);
CREATE INDEX survey_households_unit ON survey_households (property, building, unit, drawn_at);
CREATE INDEX survey_households_pending ON survey_households (survey_id) WHERE state = 'pending';

CREATE FUNCTION survey_households_rest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM survey_households WHERE property = NEW.property AND building = NEW.building AND unit = NEW.unit
               AND drawn_at > NEW.drawn_at - interval '365 days' AND id <> NEW.id) THEN
        RAISE EXCEPTION 'household % % of % was drawn within the last year (F5)', NEW.building, NEW.unit, NEW.property
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER survey_households_rest BEFORE INSERT ON survey_households FOR EACH ROW EXECUTE FUNCTION survey_households_rest();

GRANT SELECT, INSERT ON surveys TO propdesk_intake;
GRANT SELECT, INSERT, UPDATE ON survey_households TO propdesk_intake;
