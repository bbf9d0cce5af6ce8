import Desk
import Domain
import Foundation
import Messaging
import Postgres

/// Starts and stops clocks as tickets move: an event that starts a clock writes one deadline row
/// per step of its ladder; an event that meets a clock marks its steps met (a pending step is
/// then never fired; a fired one records how late the condition was met); a cancelled ticket
/// cancels its pending steps; a reopened ticket ends its earlier rounds' clocks. Redelivery is
/// harmless: the inbox skips it, and a deadline is unique per ticket, round, rule and step (and,
/// for a repeating clock, the event that started it).
///
/// The outcome does not depend on the order events arrive in: each event leaves a mark
/// (`clock_marks`), and a clock planted after a mark that meets it is written met at the mark's
/// time (or cancelled, after a cancel or a later round). A ticket's events are serialised on an
/// advisory lock, so replicas handling two of them at once see each other's marks.
struct ClockHandler: EventHandler {
    let policies: Policies

    /// What the handler reads from `ticket.*` and `workorder.*` payloads.
    struct Facts: Decodable {
        var ticketID: UUID
        var kind: TicketKind
        var round: Int
        var severity: ComplaintSeverity?
        var emergencyType: EmergencyType?
        var category: String?
        var requestedAt: Date?
        var summary: String?

        enum CodingKeys: String, CodingKey {
            case kind, round, severity, category, summary
            case ticketID = "ticket_id"
            case emergencyType = "emergency_type"
            case requestedAt = "requested_at"
        }
    }

    func handle(_ event: ReceivedEvent, on c: PostgresConnection) throws {
        let envelope = event.envelope
        guard let clockEvent = ClockEvent(eventType: envelope.type) else { return }  // notes and the like move no clock
        let facts: Facts
        do {
            facts = try envelope.decodePayload(Facts.self)
        } catch {
            throw PoisonMessage("\(envelope.type): payload lacks what clocks need: \(error)")
        }
        let at = envelope.occurredAt
        try c.executeLater("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", [facts.ticketID])
        try c.executeLater("""
            INSERT INTO clock_marks (ticket_id, round, event, occurred_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (ticket_id, round, event) DO UPDATE SET occurred_at = least(clock_marks.occurred_at, excluded.occurred_at)
            """, [facts.ticketID, facts.round, clockEvent.rawValue, at])
        /// Tells the pages showing this ticket's clocks, in this transaction.
        func changed(started: [String] = [], met: [String] = [], cancelled: Bool = false, moved: Bool = false) throws {
            let payload = ClocksChangedPayload(ticketID: facts.ticketID, round: facts.round, cause: envelope.type, started: started, met: met,
                                               cancelled: cancelled, moved: moved)
            try Outbox.enqueue(envelope.caused(type: EscalationEvents.clocksChanged, payload: try JSONValue(encoding: payload)), on: c)
        }
        if clockEvent == .cancelled {
            try c.executeLater("UPDATE deadlines SET state = 'cancelled' WHERE ticket_id = $1 AND state = 'pending'", [facts.ticketID])
            try changed(cancelled: true)
            return
        }
        if clockEvent == .reopened {
            // The earlier rounds are over: a follow-up call or result report still owed there is not.
            try c.executeLater("UPDATE deadlines SET state = 'cancelled' WHERE ticket_id = $1 AND round < $2 AND state = 'pending'",
                               [facts.ticketID, facts.round])
        }
        let policy = try policies.policy(for: envelope.property, on: c)
        if clockEvent == .extended {
            // Each running resolution clock's pending steps move together, keeping the ladder's
            // spacing, so its next step falls due at the agreed time.
            guard let until = facts.requestedAt else { throw PoisonMessage("\(envelope.type) without requested_at") }
            try c.executeLater("""
                UPDATE deadlines d SET due_at = d.due_at + (($4::timestamptz) - clock.first_due)
                FROM (SELECT rule_id, min(due_at) AS first_due FROM deadlines
                      WHERE ticket_id = $1 AND round = $2 AND rule_id = ANY($3::text[]) AND state = 'pending' GROUP BY rule_id) clock
                WHERE d.ticket_id = $1 AND d.round = $2 AND d.rule_id = clock.rule_id AND d.state = 'pending' AND clock.first_due < $4
                """, [facts.ticketID, facts.round, PostgresArray(DeadlinePlanner.rulesExtended(rules: policy.rules)), until])
            try changed(moved: true)
            return
        }
        let met = DeadlinePlanner.rulesMet(by: clockEvent, rules: policy.rules)
        if !met.isEmpty {
            try c.executeLater("""
                UPDATE deadlines SET state = CASE WHEN state = 'pending' THEN 'met' ELSE state END, met_at = $4
                WHERE ticket_id = $1 AND round = $2 AND rule_id = ANY($3::text[]) AND state IN ('pending', 'fired') AND met_at IS NULL
                """, [facts.ticketID, facts.round, PostgresArray(met), at])
        }
        let ticket = ClockTicket(kind: facts.kind, severity: facts.severity, emergencyType: facts.emergencyType,
                                 category: facts.category, requestedAt: facts.requestedAt, text: facts.summary)
        let planned = DeadlinePlanner.deadlines(for: clockEvent, at: at, ticket: ticket, rules: policy.rules, calendar: policy.calendar)
        let ladders = Dictionary(grouping: planned, by: \.ruleID).mapValues(\.count)
        let repeating = Set(planned.filter(\.repeats).map(\.ruleID))
        if !repeating.isEmpty {
            // A new start of a repeating clock supersedes the steps of the one still running.
            try c.executeLater("""
                UPDATE deadlines SET state = 'cancelled'
                WHERE ticket_id = $1 AND round = $2 AND rule_id = ANY($3::text[]) AND state = 'pending'
                """, [facts.ticketID, facts.round, PostgresArray(repeating.sorted())])
        }
        // Per planted rule, the events that meet it (for the marks of events that overtook this one).
        let meeting = Dictionary(policy.rules.filter { ladders[$0.id] != nil }.map { rule in
            (rule.id, ClockEvent.allCases.filter { $0.meets(rule.stops) }.map(\.rawValue))
        }, uniquingKeysWith: { a, _ in a })
        if !planned.isEmpty {
            // One statement for the whole ladder (each row as it stands: met if a mark of this
            // round already meets it, an event that overtook this one; cancelled if the ticket was
            // cancelled or has a later round), so the insert trigger's wake-up fires once.
            try c.executeLater("""
                INSERT INTO deadlines (ticket_id, property, round, rule_id, standard, title, purpose, step, steps, started_at, due_at, tell,
                                       started_by, state, met_at)
                SELECT $1, $2, $3, p.rule_id, p.standard, p.title, p.purpose, p.step, p.steps, $4, p.due_at, p.tell::jsonb, p.started_by,
                       CASE WHEN gone.yes THEN 'cancelled' WHEN early.at IS NOT NULL THEN 'met' ELSE 'pending' END,
                       CASE WHEN gone.yes THEN NULL ELSE early.at END
                FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::timestamptz[], $12::text[],
                            $13::uuid[], $14::text[]) AS p(rule_id, standard, title, purpose, step, steps, due_at, tell, started_by, meeting)
                CROSS JOIN (SELECT EXISTS (SELECT 1 FROM clock_marks WHERE ticket_id = $1
                                           AND ((event = 'cancelled' AND round >= $3) OR round > $3)) AS yes) gone
                CROSS JOIN LATERAL (SELECT min(occurred_at) AS at FROM clock_marks
                                    WHERE ticket_id = $1 AND round = $3 AND event = ANY(string_to_array(p.meeting, ',')) AND occurred_at >= $4) early
                ON CONFLICT (ticket_id, round, rule_id, step, started_by) DO NOTHING
                """, [facts.ticketID, envelope.property, facts.round, at,
                      PostgresArray(planned.map(\.ruleID)), PostgresArray(planned.map(\.standard)), PostgresArray(planned.map(\.title)),
                      PostgresArray(planned.map(\.purpose.rawValue)), PostgresArray(planned.map(\.step)),
                      PostgresArray(planned.map { ladders[$0.ruleID] ?? $0.step }), PostgresArray(planned.map(\.dueAt)),
                      PostgresArray(try planned.map { try PostgresJSON(encoding: $0.tell, encoder: DeskJSON.encoder) }),
                      PostgresArray(planned.map { $0.repeats ? envelope.id : nil }),
                      PostgresArray(planned.map { (meeting[$0.ruleID] ?? []).joined(separator: ",") })])
        }
        if !planned.isEmpty {
            event.logger.debug("clocks started", metadata: ["rules": "\(ladders.keys.sorted().joined(separator: ","))"])
        }
        if !planned.isEmpty || !met.isEmpty || clockEvent == .reopened {
            try changed(started: ladders.keys.sorted(), met: met.sorted(), cancelled: clockEvent == .reopened)
        }
    }
}
