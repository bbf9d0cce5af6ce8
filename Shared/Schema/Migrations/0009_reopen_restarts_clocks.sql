-- A reopened ticket's resolution clocks run again in its new round (ClockRule.restartsOn). The
-- escalation service seeds missing default rules but leaves existing rows alone, so the default
-- rows already seeded gain the field here: escalation clocks that start on creation and wait for
-- resolution. A property's own rows are its own: they opt in by adding "restarts_on".
UPDATE sla_rules
SET rule = rule || '{"restarts_on": ["reopened"]}'::jsonb
WHERE property IS NULL
  AND rule->>'purpose' = 'escalation' AND rule->>'starts' = 'created' AND rule->>'stops' = 'resolved'
  AND NOT rule ? 'restarts_on';
