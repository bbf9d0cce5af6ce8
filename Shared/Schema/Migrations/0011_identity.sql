-- Identity and access (issue 14): staff accounts, their sessions and tokens, failed-login
-- throttling, requests to read a resident's file (P1), and the audit log.

-- A member of staff. The password is a bcrypt hash (never the password); the TOTP secret is set
-- for accounts whose roles need a second factor (AccessPolicy.needsSecondFactor).
CREATE TABLE staff (
    id            uuid PRIMARY KEY,
    login         text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,39}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    roles         text[] NOT NULL CHECK (cardinality(roles) >= 1),
    departments   text[] NOT NULL DEFAULT '{}',
    properties    text[] NOT NULL CHECK (cardinality(properties) >= 1),
    password_hash text NOT NULL CHECK (password_hash LIKE '$2%'),
    totp_secret   text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A browser session (cookie, with its CSRF token) or a bearer token for a program. Only the
-- SHA-256 of the secret is kept: a stolen table signs nobody in.
CREATE TABLE staff_sessions (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    kind        text NOT NULL CHECK (kind IN ('session', 'token')),
    csrf_token  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    address     text,
    label       text
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id) WHERE revoked_at IS NULL;

-- Failed sign-ins per account (`login:<login>`) and per address (`address:<ip>`), in a window.
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

-- A request to read one resident's file, and what became of it.
CREATE TABLE file_requests (
    id           uuid PRIMARY KEY,
    resident_id  uuid NOT NULL REFERENCES residents (id),
    property     text NOT NULL REFERENCES properties (code),
    requested_by uuid NOT NULL REFERENCES staff (id),
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'refused')),
    decided_by   uuid REFERENCES staff (id),
    decided_at   timestamptz,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (state = 'pending' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)),
    CHECK (state <> 'approved' OR expires_at IS NOT NULL)
);
CREATE INDEX file_requests_resident ON file_requests (resident_id, requested_by) WHERE state = 'approved';
CREATE INDEX file_requests_pending ON file_requests (property) WHERE state = 'pending';

-- Append-only: sign-ins, failures, lock-outs, sign-outs, accounts and role changes, and every
-- read of, request for, approval or refusal of a resident's file. Nobody updates or deletes a
-- row, not even the owner (the trigger), and the services may only insert (grants below).
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    subject  text NOT NULL,
    reason   text,
    address  text,
    detail   jsonb
);
CREATE INDEX audit_log_subject ON audit_log (subject, at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The file reads logged so far move into the audit log, which replaces access_log.
INSERT INTO audit_log (at, actor, action, subject, reason, detail)
SELECT at, actor, 'contact_read', subject, purpose, jsonb_build_object('role', role) FROM access_log ORDER BY id;
DROP TABLE access_log;
