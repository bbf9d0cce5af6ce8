-- The weekly complaint report (C9), sent to the managers every Monday at 09:00 in the property's
-- zone (issue 17). One row per property and week: escalation's timer engine claims a due row
-- with FOR UPDATE SKIP LOCKED, renders last week's report into `report_files`, writes its
-- `report.weekly_complaints.ready` event to the outbox, marks the row sent and adds the next
-- Monday's, in one transaction: with two replicas it is sent once, and a crash neither loses nor
-- doubles it. A Monday missed while escalation was down is sent when it starts.
CREATE TABLE scheduled_reports (
    property    text NOT NULL REFERENCES properties (code),
    report      text NOT NULL CHECK (report IN ('weekly_complaints')),
    -- The week reported on, [period_from, period_to) in the property's days.
    period_from date NOT NULL,
    period_to   date NOT NULL CHECK (period_to > period_from),
    due_at      timestamptz NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    sent_at     timestamptz,
    file_id     uuid,
    PRIMARY KEY (property, report, period_from)
);
CREATE INDEX scheduled_reports_due ON scheduled_reports (due_at) WHERE state = 'pending';

-- A report as it was sent: the file the managers' link opens, unchanged by later edits to the record.
CREATE TABLE report_files (
    id           uuid PRIMARY KEY,
    property     text NOT NULL REFERENCES properties (code),
    report       text NOT NULL,
    period_from  date NOT NULL,
    period_to    date NOT NULL,
    content_type text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_files_property ON report_files (property, created_at DESC);

GRANT SELECT, INSERT, UPDATE ON scheduled_reports TO propdesk_escalation;
GRANT SELECT, INSERT ON report_files TO propdesk_escalation;
GRANT SELECT ON scheduled_reports, report_files TO propdesk_intake;
