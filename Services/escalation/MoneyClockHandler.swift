import Contracts
import Desk
import Domain
import Foundation
import Messaging
import Postgres

/// Starts and stops the money clocks (``MoneyClocks``) from `billing.*` events: an event that
/// stops a clock marks the subject's pending steps met; an event that starts one writes a
/// `money_deadlines` row per step, due on the property's calendar. The stops are applied before
/// the starts, so `dunning.stepped` ends one rung of the ladder and starts the next. Redelivery is
/// harmless: the inbox skips it, and a step is unique per subject, rule and step.
struct MoneyClockHandler: EventHandler {
    let policies: Policies

    func handle(_ event: ReceivedEvent, on c: PostgresConnection) throws {
        let envelope = event.envelope
        let parts = envelope.type.split(separator: ".").map(String.init)
        guard parts.count == 3 else { return }
        let name = "\(parts[1]).\(parts[2])"
        let payload: BillingEventPayload
        do {
            payload = try envelope.decodePayload(BillingEventPayload.self)
        } catch {
            throw PoisonMessage("\(envelope.type): payload lacks what money clocks need: \(error)")
        }
        let policy = try policies.policy(for: envelope.property, on: c)
        let stopped = policy.moneyRules.filter { $0.stops.contains(name) }.map(\.id)
        if !stopped.isEmpty {
            try c.executeLater("""
                UPDATE money_deadlines SET state = CASE WHEN state = 'pending' THEN 'met' ELSE state END, met_at = $3
                WHERE subject_id = $1 AND rule_id = ANY($2::text[]) AND state IN ('pending', 'fired') AND met_at IS NULL AND started_at <= $3
                """, [payload.subjectID, PostgresArray(stopped), envelope.occurredAt])
        }
        let start = payload.clockFrom ?? envelope.occurredAt
        for rule in policy.moneyRules where rule.isStarted(by: name, stage: payload.stage) {
            for (index, step) in rule.steps.enumerated() {
                let tell = step.tell + (step.tellNamed ? payload.recipients ?? [] : [])
                try c.executeLater("""
                    INSERT INTO money_deadlines (property, subject, subject_id, reference, rule_id, standard, title, step, steps, started_at, due_at, tell)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
                    ON CONFLICT (subject_id, rule_id, step) DO NOTHING
                    """, [envelope.property, payload.subject, payload.subjectID, payload.reference, rule.id, rule.standard, rule.title,
                          index + 1, rule.steps.count, start, step.due.instant(from: start, calendar: policy.calendar),
                          try PostgresJSON(encoding: tell, encoder: DeskJSON.encoder)])
            }
            event.logger.debug("money clock started", metadata: ["rule": "\(rule.id)", "subject": "\(payload.subjectID)"])
        }
    }
}
