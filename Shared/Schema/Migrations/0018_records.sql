-- The office's records (issue 17): shift handovers (P2), the key register (T9) and the checks
-- before a lock is changed (T2). Each record is written by intake, in the transaction of the
-- request that makes it, with its audit row.

-- P2: a shift handover. The outgoing shift lists its pending items (pre-filled from the open
-- tickets and work orders); the outgoing and then the incoming person sign, each with their own
-- login. A signature freezes the items; once both have signed the record can only be amended by
-- a new entry (handover_amendments). The trigger refuses any other change, whoever asks.
CREATE TABLE handovers (
    id              uuid PRIMARY KEY,
    property        text NOT NULL REFERENCES properties (code),
    department      text NOT NULL,
    shift           text NOT NULL CHECK (length(shift) BETWEEN 1 AND 40),
    -- [{text, ticket_id?, number?}]: what the next shift must carry on with.
    items           jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array'),
    notes           text,
    created_by      uuid NOT NULL REFERENCES staff (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    outgoing_by     uuid REFERENCES staff (id),
    outgoing_at     timestamptz,
    incoming_by     uuid REFERENCES staff (id),
    incoming_at     timestamptz,
    CHECK ((outgoing_by IS NULL) = (outgoing_at IS NULL) AND (incoming_by IS NULL) = (incoming_at IS NULL)),
    CHECK (incoming_by IS NULL OR outgoing_by IS NOT NULL),
    CHECK (incoming_by IS DISTINCT FROM outgoing_by OR incoming_by IS NULL)
);
CREATE INDEX handovers_property ON handovers (property, department, created_at DESC);

CREATE TABLE handover_amendments (
    id          bigserial PRIMARY KEY,
    handover_id uuid NOT NULL REFERENCES handovers (id),
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    author      uuid NOT NULL REFERENCES staff (id),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handover_amendments_handover ON handover_amendments (handover_id, id);

CREATE FUNCTION handovers_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a handover is never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.incoming_by IS NOT NULL THEN
        RAISE EXCEPTION 'handover % is signed by both shifts: amend it with a new entry', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (OLD.outgoing_by IS NOT NULL OR NEW.outgoing_by IS NOT NULL)
       AND (NEW.items IS DISTINCT FROM OLD.items OR NEW.notes IS DISTINCT FROM OLD.notes OR NEW.shift IS DISTINCT FROM OLD.shift) THEN
        RAISE EXCEPTION 'handover % is signed: its items no longer change', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.property <> OLD.property OR NEW.department <> OLD.department OR NEW.created_by <> OLD.created_by
       OR NEW.created_at <> OLD.created_at
       OR (OLD.outgoing_by IS NOT NULL AND (NEW.outgoing_by IS DISTINCT FROM OLD.outgoing_by OR NEW.outgoing_at IS DISTINCT FROM OLD.outgoing_at)) THEN
        RAISE EXCEPTION 'handover %: who wrote and signed it does not change', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER handovers_guard BEFORE UPDATE OR DELETE ON handovers FOR EACH ROW EXECUTE FUNCTION handovers_guard();
CREATE TRIGGER handover_amendments_append_only BEFORE UPDATE OR DELETE ON handover_amendments
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

-- T9: the key register. A key is data: a unit's key, or a special room's (plant rooms, the roof),
-- with how many copies the office holds.
CREATE TABLE keys (
    id         uuid PRIMARY KEY,
    property   text NOT NULL REFERENCES properties (code),
    label      text NOT NULL CHECK (length(label) BETWEEN 1 AND 80),
    building   text,
    unit       text,
    -- A special room's key needs a department head's approval to lend (T9).
    special    boolean NOT NULL DEFAULT false,
    copies     integer NOT NULL CHECK (copies BETWEEN 1 AND 99),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (property, label)
);

-- Every issue and return: who, what, why, when. A non-owner's loan carries the owner's written
-- authorisation (a reference) and the phone confirmation (who at the office called, when). A
-- special room's key waits for a head's approval before it is handed over. The key's return is a
-- deadline: the loan's key_loan ticket carries the due time, and escalation's clock T9-key-due
-- fires if the return is not recorded by then.
CREATE TABLE key_loans (
    id                    uuid PRIMARY KEY,
    key_id                uuid NOT NULL REFERENCES keys (id),
    property              text NOT NULL REFERENCES properties (code),
    ticket_id             uuid NOT NULL REFERENCES tickets (id),
    borrower              text NOT NULL CHECK (length(borrower) BETWEEN 1 AND 80),
    relation              text NOT NULL CHECK (relation IN ('owner', 'tenant', 'family', 'agent', 'contractor', 'staff')),
    reason                text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    authorisation_ref     text,
    phone_confirmed_by    uuid REFERENCES staff (id),
    phone_confirmed_at    timestamptz,
    phone_confirmed_with  text,
    copies                integer NOT NULL DEFAULT 1 CHECK (copies >= 1),
    state                 text NOT NULL CHECK (state IN ('awaiting_approval', 'out', 'returned', 'refused')),
    requested_by          uuid NOT NULL REFERENCES staff (id),
    requested_at          timestamptz NOT NULL DEFAULT now(),
    approved_by           uuid REFERENCES staff (id),
    approved_at           timestamptz,
    issued_at             timestamptz,
    due_back_at           timestamptz NOT NULL,
    returned_at           timestamptz,
    returned_to           uuid REFERENCES staff (id),
    CHECK (relation = 'owner' OR relation = 'staff'
           OR (authorisation_ref IS NOT NULL AND phone_confirmed_by IS NOT NULL AND phone_confirmed_at IS NOT NULL)),
    CHECK (state NOT IN ('out', 'returned') OR issued_at IS NOT NULL),
    CHECK (state <> 'returned' OR returned_at IS NOT NULL)
);
CREATE INDEX key_loans_key ON key_loans (key_id) WHERE state IN ('awaiting_approval', 'out');
CREATE INDEX key_loans_property ON key_loans (property, requested_at DESC);

-- The daily count: what was on the board against what the register says should be. A count
-- that differs files a ticket to security (ticket_id).
CREATE TABLE key_counts (
    id         uuid PRIMARY KEY,
    property   text NOT NULL REFERENCES properties (code),
    day        date NOT NULL,
    counted_by uuid NOT NULL REFERENCES staff (id),
    at         timestamptz NOT NULL DEFAULT now(),
    -- [{key_id, label, expected, counted}]
    lines      jsonb NOT NULL,
    discrepancies integer NOT NULL,
    ticket_id  uuid REFERENCES tickets (id)
);
CREATE INDEX key_counts_property ON key_counts (property, day DESC);

-- A key count that does not add up is security's (T9).
INSERT INTO routing_rules (id, standard, property, position, kinds, categories, keywords, emergency_types, departments, priority) VALUES
    ('key-count-discrepancy', 'T9', NULL, 45, '{key_loan}', '{key_count}', '{}', '{}', '{security}', 'high');

-- T2: before a lock is broken or changed, the applicant's ID is checked (its type and last four
-- characters, never the whole number) and the applicant is the owner or the owner consents by
-- phone (who at the office called, the owner's name, when). The ticket is not resolved until
-- this is recorded and customer service, concierge and engineering have each been on site.
CREATE TABLE lock_change_checks (
    ticket_id          uuid PRIMARY KEY REFERENCES tickets (id),
    property           text NOT NULL REFERENCES properties (code),
    applicant          text NOT NULL CHECK (length(applicant) BETWEEN 1 AND 80),
    id_document        text NOT NULL CHECK (id_document IN ('resident_id_card', 'passport', 'residence_permit', 'hk_macau_taiwan_permit')),
    id_last4           text NOT NULL CHECK (id_last4 ~ '^[0-9A-Za-z]{4}$'),
    applicant_is_owner boolean NOT NULL,
    consent_owner      text,
    consent_by         uuid REFERENCES staff (id),
    consent_at         timestamptz,
    checked_by         uuid NOT NULL REFERENCES staff (id),
    checked_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (applicant_is_owner OR (consent_owner IS NOT NULL AND consent_by IS NOT NULL AND consent_at IS NOT NULL))
);
CREATE TRIGGER lock_change_checks_append_only BEFORE UPDATE OR DELETE ON lock_change_checks
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

GRANT SELECT, INSERT, UPDATE ON handovers, keys, key_loans TO propdesk_intake;
GRANT SELECT, INSERT ON handover_amendments, key_counts, lock_change_checks TO propdesk_intake;
GRANT USAGE ON SEQUENCE handover_amendments_id_seq TO propdesk_intake;
