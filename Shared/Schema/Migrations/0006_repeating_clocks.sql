-- A repeating clock (ClockRule.repeats: the follow-up call that missed again) starts anew on
-- every event that starts it: its rows carry that event's id. Other clocks keep one per ticket,
-- round, rule and step (started_by NULL, and NULLs count as equal here).
ALTER TABLE deadlines ADD COLUMN started_by uuid;
ALTER TABLE deadlines DROP CONSTRAINT deadlines_ticket_id_round_rule_id_step_key;
CREATE UNIQUE INDEX deadlines_clock ON deadlines (ticket_id, round, rule_id, step, started_by) NULLS NOT DISTINCT;

-- The shipped default F-retry rule repeats (seeded rows are not rewritten at start).
UPDATE sla_rules SET rule = rule || '{"repeats": true}' WHERE property IS NULL AND id = 'F-retry';
