-- Least privilege (issue 14): each service connects as its own role and reaches only what it
-- needs. The roles are created here without a login when they do not exist yet; whoever runs
-- the deployment gives each a password (`ALTER ROLE propdesk_intake LOGIN PASSWORD '…'`; the
-- local stack does it with generated secrets). Migrations run as the schema's owner, which needs
-- CREATEROLE. A later migration that adds a table grants it to the services that use it.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['propdesk_service', 'propdesk_intake', 'propdesk_dispatch', 'propdesk_escalation',
                             'propdesk_notification', 'propdesk_billing'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;
GRANT propdesk_service TO propdesk_intake, propdesk_dispatch, propdesk_escalation, propdesk_notification, propdesk_billing;

-- Every service: its messaging tables, the register of properties, and who is signed in.
GRANT USAGE ON SCHEMA public TO propdesk_service;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO propdesk_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO propdesk_service;
GRANT SELECT, INSERT, DELETE ON inbox TO propdesk_service;
GRANT SELECT ON schema_migrations, properties, staff_sessions TO propdesk_service;
-- Who a token belongs to, never how they sign in: no password hash, no second-factor secret.
GRANT SELECT (id, login, name, roles, departments, properties, active) ON staff TO propdesk_service;
GRANT INSERT ON audit_log TO propdesk_service;

-- Intake: the desk's tickets and steps, accounts' sessions, file requests, and the reports
-- (read-only) over deadlines.
GRANT SELECT, INSERT, UPDATE ON tickets, ticket_events, work_orders, ticket_counters, idempotency_keys TO propdesk_intake;
GRANT DELETE ON idempotency_keys TO propdesk_intake;
GRANT SELECT ON residents, routing_rules, deadlines, sla_rules, calendar_days, clock_marks, audit_log TO propdesk_intake;
GRANT INSERT, UPDATE, DELETE ON staff_sessions TO propdesk_intake;
-- Intake signs people in: it reads the hashes and secrets, and changes no account.
GRANT SELECT ON staff TO propdesk_intake;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO propdesk_intake;
GRANT SELECT, INSERT, UPDATE ON file_requests TO propdesk_intake;

-- Dispatch: routes tickets into work orders. No deliveries, no deadlines.
GRANT SELECT, UPDATE ON tickets TO propdesk_dispatch;
GRANT SELECT, INSERT, UPDATE ON work_orders, ticket_events TO propdesk_dispatch;
GRANT SELECT ON routing_rules, residents TO propdesk_dispatch;

-- Escalation: the clocks, and the standards' default clock rules it seeds. Reads tickets,
-- never changes them.
GRANT SELECT, INSERT, UPDATE, DELETE ON deadlines, clock_marks TO propdesk_escalation;
GRANT INSERT ON sla_rules TO propdesk_escalation;
GRANT SELECT ON tickets, work_orders, ticket_events, sla_rules, calendar_days TO propdesk_escalation;

-- Notification: its deliveries. Reads tickets and the rosters, never changes a ticket.
GRANT SELECT, INSERT, UPDATE, DELETE ON deliveries, delivery_attempts TO propdesk_notification;
GRANT SELECT ON tickets, work_orders, residents, duty_roster, calendar_days, deadlines TO propdesk_notification;
