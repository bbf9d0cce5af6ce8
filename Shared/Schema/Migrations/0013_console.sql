-- The console (issue 15), served by intake: the supervisor's page shows who is on duty now. It
-- reads the roster's names and hours; the contacts stay the notification service's alone.
GRANT SELECT (id, property, role, department, person, language, weekdays, starts, ends, active) ON duty_roster TO propdesk_intake;

-- The board shows each open ticket's next due step: one index probe per ticket instead of a sort
-- of its steps.
CREATE INDEX deadlines_next ON deadlines (ticket_id, due_at) WHERE state = 'pending';
