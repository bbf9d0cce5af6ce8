-- Billing (issue 16): price lists, quotes, charges, payments and receipts, the ledger, repair-cost
-- approvals, property fees and dunning, deposits; and the money clocks the escalation service
-- times. Every amount is bigint fen; no float or numeric money anywhere.

-- Per property: B4's approval limits, the fee rule, late fees and whether the price list is public.
CREATE TABLE billing_settings (
    property           text PRIMARY KEY REFERENCES properties (code),
    approval           jsonb NOT NULL DEFAULT '{}',  -- Domain.ApprovalLimits; missing keys are B4's
    fee_rate_fen       bigint CHECK (fee_rate_fen > 0),  -- management fee per m² per month
    custodial_percent  integer NOT NULL DEFAULT 70 CHECK (custodial_percent BETWEEN 0 AND 100),
    late_fee           jsonb,                         -- Domain.LateFeeRule; null: none
    price_list_public  boolean NOT NULL DEFAULT false
);

-- B1: the price list, versioned. Publishing writes a whole new version; quotes and charges keep
-- the version and price they were made at.
CREATE TABLE price_lists (
    property     text NOT NULL REFERENCES properties (code),
    version      integer NOT NULL CHECK (version >= 1),
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text NOT NULL,
    PRIMARY KEY (property, version)
);
CREATE TABLE price_items (
    property  text NOT NULL,
    version   integer NOT NULL,
    code      text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name      text NOT NULL,
    unit      text NOT NULL DEFAULT '次',
    price_fen bigint NOT NULL CHECK (price_fen > 0),
    -- a deposit (B7: the umbrella's ¥20) is held and refunded, not revenue
    kind      text NOT NULL DEFAULT 'service' CHECK (kind IN ('service', 'deposit')),
    department text,
    PRIMARY KEY (property, version, code),
    FOREIGN KEY (property, version) REFERENCES price_lists (property, version)
);

-- B1: a paid-service ticket's price: a listed item, or an on-site quote (cost plus margin, 保本微利).
CREATE TABLE quotes (
    id             uuid PRIMARY KEY,
    property       text NOT NULL REFERENCES properties (code),
    ticket_id      uuid NOT NULL REFERENCES tickets (id),
    department     text NOT NULL,
    source         text NOT NULL CHECK (source IN ('price_list', 'on_site')),
    list_version   integer,
    item_code      text,
    description    text NOT NULL,
    cost_fen       bigint NOT NULL CHECK (cost_fen >= 0),
    margin_percent integer NOT NULL DEFAULT 0 CHECK (margin_percent BETWEEN 0 AND 100),
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    state          text NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'accepted', 'declined', 'superseded')),
    issued_by      text NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    answered_by    text,
    answered_at    timestamptz,
    answer_note    text
);
CREATE INDEX quotes_ticket ON quotes (ticket_id);
CREATE UNIQUE INDEX quotes_one_accepted ON quotes (ticket_id) WHERE state = 'accepted';

-- B3: a disputed price goes to the department head through a money clock; the price is not edited.
CREATE TABLE price_disputes (
    id          uuid PRIMARY KEY,
    property    text NOT NULL,
    quote_id    uuid NOT NULL REFERENCES quotes (id),
    department  text NOT NULL,
    reason      text NOT NULL,
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    opened_by   text NOT NULL,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    resolved_by text,
    resolved_at timestamptz,
    resolution  text
);

-- The ledger: every money movement one balanced entry (Domain.JournalEntry); debits positive.
CREATE TABLE ledger_entries (
    id        bigserial PRIMARY KEY,
    property  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL,
    reference text NOT NULL
);
CREATE TABLE ledger_postings (
    entry_id   bigint NOT NULL REFERENCES ledger_entries (id),
    account    text NOT NULL,
    party      text,
    amount_fen bigint NOT NULL CHECK (amount_fen <> 0)
);
CREATE INDEX ledger_postings_entry ON ledger_postings (entry_id);
CREATE INDEX ledger_postings_party ON ledger_postings (party, account);

-- Units and their fees (B6, B8).
CREATE TABLE units (
    id          uuid PRIMARY KEY,
    property    text NOT NULL REFERENCES properties (code),
    building    text NOT NULL,
    unit        text NOT NULL,
    area_centi  bigint NOT NULL CHECK (area_centi > 0),   -- hundredths of a m²
    status      text NOT NULL DEFAULT 'occupied' CHECK (status IN ('occupied', 'vacant', 'entrusted')),
    resident_id uuid REFERENCES residents (id),
    UNIQUE (property, building, unit)
);

-- Charges: what a resident owes for paid work (one per accepted quote) or a posted late fee.
CREATE TABLE charges (
    id          uuid PRIMARY KEY,
    property    text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('paid_service', 'late_fee')),
    quote_id    uuid UNIQUE REFERENCES quotes (id),
    ticket_id   uuid REFERENCES tickets (id),
    unit_id     uuid REFERENCES units (id),
    bill_id     uuid,
    description text NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    paid_fen    bigint NOT NULL DEFAULT 0 CHECK (paid_fen >= 0 AND paid_fen <= amount_fen),
    posted_at   timestamptz NOT NULL DEFAULT now(),
    entry_id    bigint NOT NULL REFERENCES ledger_entries (id)
);
CREATE INDEX charges_ticket ON charges (ticket_id);

CREATE TABLE bill_runs (
    id         uuid PRIMARY KEY,
    property   text NOT NULL REFERENCES properties (code),
    period     text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    due_date   date NOT NULL,
    rate_fen   bigint NOT NULL,
    bills      integer NOT NULL,
    total_fen  bigint NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    entry_id   bigint NOT NULL REFERENCES ledger_entries (id),
    UNIQUE (property, period)
);
CREATE TABLE bills (
    id            uuid PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES bill_runs (id),
    property      text NOT NULL,
    unit_id       uuid NOT NULL REFERENCES units (id),
    period        text NOT NULL,
    area_centi    bigint NOT NULL,
    status        text NOT NULL,
    percent       integer NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    paid_fen      bigint NOT NULL DEFAULT 0 CHECK (paid_fen >= 0 AND paid_fen <= amount_fen),
    due_date      date NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paid', 'cancelled')),
    dunning_stage text NOT NULL DEFAULT 'none'
        CHECK (dunning_stage IN ('none', 'reminded', 'letter_due', 'letter_sent', 'visit_due', 'visited', 'legal')),
    UNIQUE (unit_id, period)
);
CREATE INDEX bills_run ON bills (run_id) WHERE state = 'open';
-- B6's evidence: each step of the ladder with who, how and when.
CREATE TABLE dunning_steps (
    id              bigserial PRIMARY KEY,
    bill_id         uuid NOT NULL REFERENCES bills (id),
    stage           text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    channel         text,
    tracking_number text,
    note            text
);
CREATE INDEX dunning_steps_bill ON dunning_steps (bill_id);

-- B7: deposits for loaned items.
CREATE TABLE deposits (
    id          uuid PRIMARY KEY,
    property    text NOT NULL,
    ticket_id   uuid REFERENCES tickets (id),
    unit_id     uuid REFERENCES units (id),
    item_code   text NOT NULL,
    item        text NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    state       text NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'refunded', 'forfeited')),
    taken_at    timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,
    closed_by   text,
    condition   text,
    note        text
);

-- B2: payments, each with one receipt number from a gap-free series per property. The number is
-- taken from receipt_counters in the payment's own transaction: a rolled-back payment gives its
-- number back, and the row lock means no two payments share one.
CREATE TABLE receipt_counters (
    property text NOT NULL REFERENCES properties (code),
    series   text NOT NULL CHECK (series IN ('receipt', 'reversal')),
    last     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (property, series)
);
CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    property        text NOT NULL,
    target          text NOT NULL CHECK (target IN ('charge', 'bill', 'deposit', 'contractor_deposit')),
    target_id       uuid NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    method          text NOT NULL CHECK (method IN ('cash', 'card', 'wechat_pay', 'alipay')),
    method_reference text,
    payer           text,
    receipt_seq     bigint NOT NULL,
    receipt_number  text NOT NULL UNIQUE,
    paid_at         timestamptz NOT NULL DEFAULT now(),
    taken_by        text NOT NULL,
    reversed_fen    bigint NOT NULL DEFAULT 0 CHECK (reversed_fen >= 0 AND reversed_fen <= amount_fen),
    entry_id        bigint NOT NULL REFERENCES ledger_entries (id),
    UNIQUE (property, receipt_seq)
);
CREATE INDEX payments_target ON payments (target_id);
-- Voids and refunds: numbered in their own series; the original payment stays as it was.
CREATE TABLE reversals (
    id         uuid PRIMARY KEY,
    property   text NOT NULL,
    payment_id uuid NOT NULL REFERENCES payments (id),
    kind       text NOT NULL CHECK (kind IN ('void', 'refund')),
    seq        bigint NOT NULL,
    number     text NOT NULL UNIQUE,
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    reason     text NOT NULL,
    by_whom    text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    entry_id   bigint NOT NULL REFERENCES ledger_entries (id),
    UNIQUE (property, seq)
);
CREATE INDEX reversals_payment ON reversals (payment_id);
-- A replayed request with the same Idempotency-Key answers what the first one did.
CREATE TABLE billing_requests (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    status       integer NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- B4/B5: a work order's repair cost and its approval chain.
CREATE TABLE approvals (
    id            uuid PRIMARY KEY,
    property      text NOT NULL,
    work_order_id uuid NOT NULL REFERENCES work_orders (id),
    ticket_id     uuid NOT NULL REFERENCES tickets (id),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    description   text NOT NULL,
    repair_class  text CHECK (repair_class IN ('A', 'B', 'C')),
    contractor    text,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    submitted_by  text NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    entry_id      bigint REFERENCES ledger_entries (id)
);
CREATE TABLE approval_steps (
    id          uuid PRIMARY KEY,
    approval_id uuid NOT NULL REFERENCES approvals (id),
    position    integer NOT NULL,
    action      text NOT NULL CHECK (action IN ('review', 'approve', 'audit')),
    role        text NOT NULL,
    department  text,
    state       text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'pending', 'approved', 'rejected', 'skipped')),
    decided_by  text,
    decided_at  timestamptz,
    note        text,
    UNIQUE (approval_id, position)
);

-- Money clocks (Domain.MoneyClocks), timed by the escalation service like tickets' deadlines.
CREATE TABLE money_clock_rules (
    property text REFERENCES properties (code),
    id       text NOT NULL,
    rule     jsonb NOT NULL
);
CREATE UNIQUE INDEX money_clock_rules_key ON money_clock_rules (coalesce(property, ''), id);
CREATE TABLE money_deadlines (
    id          bigserial PRIMARY KEY,
    property    text NOT NULL,
    subject     text NOT NULL,
    subject_id  uuid NOT NULL,
    reference   text NOT NULL,
    rule_id     text NOT NULL,
    standard    text NOT NULL,
    title       text NOT NULL,
    step        integer NOT NULL CHECK (step >= 1),
    steps       integer NOT NULL CHECK (steps >= step),
    started_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    tell        jsonb NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'met', 'cancelled')),
    fired_at    timestamptz,
    met_at      timestamptz,
    UNIQUE (subject_id, rule_id, step)
);
CREATE INDEX money_deadlines_due ON money_deadlines (due_at) WHERE state = 'pending';
CREATE INDEX money_deadlines_subject ON money_deadlines (subject_id) WHERE state IN ('pending', 'fired');
CREATE TRIGGER money_deadlines_notify AFTER INSERT ON money_deadlines REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION deadlines_notify();

-- The new tables' id sequences (0012 granted the sequences that existed then).
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO propdesk_service;
-- Billing owns the money; it reads tickets, work orders, residents and the calendar.
GRANT SELECT, INSERT, UPDATE ON billing_settings, price_lists, price_items, quotes, price_disputes, ledger_entries, ledger_postings,
    units, charges, bill_runs, bills, dunning_steps, deposits, receipt_counters, payments, reversals, billing_requests,
    approvals, approval_steps TO propdesk_billing;
GRANT SELECT ON tickets, work_orders, residents, calendar_days, money_deadlines TO propdesk_billing;
-- Escalation times the money clocks.
GRANT SELECT, INSERT, UPDATE, DELETE ON money_deadlines TO propdesk_escalation;
GRANT SELECT, INSERT ON money_clock_rules TO propdesk_escalation;
-- Intake refuses to finish paid work on an unaccepted price (B1).
GRANT SELECT ON quotes TO propdesk_intake;
-- Notification finds the resident of a fee reminder.
GRANT SELECT ON units TO propdesk_notification;

-- An amount of fen as the API writes it, `1000.00` (Domain.Money.description).
CREATE FUNCTION money_text(fen bigint) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN fen < 0 THEN '-' ELSE '' END || (abs(fen) / 100)::text || '.' || lpad((abs(fen) % 100)::text, 2, '0')
$$;

-- The ticket a payment's target belongs to (a paid-service charge, a loaned item's deposit), if any.
CREATE FUNCTION ticket_id_of(target uuid) RETURNS uuid STABLE LANGUAGE sql AS $$
    SELECT coalesce((SELECT ticket_id FROM charges WHERE id = target), (SELECT ticket_id FROM deposits WHERE id = target))
$$;
-- Sums of fen (numeric) written the same way.
CREATE FUNCTION money_text(fen numeric) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT money_text(fen::bigint) $$;
