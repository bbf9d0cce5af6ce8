import Domain
import Foundation
import Messaging

/// The events the escalation service publishes when a deadline's step falls due unmet:
///
/// - `escalation.<standard>.breached`, e.g. `escalation.c1.breached`: someone is late; the payload
///   names who must be told (roles and departments) and how late the firing itself was.
/// - `followup.<kind>.due`, e.g. `followup.complaint.due`: a follow-up call (回访) is due now;
///   the customer-service desk makes it.
///
/// On the wire the routing key adds the property, as for every event.
public enum EscalationEvents {
    public static func breached(standard: String) -> String { "escalation.\(standard.lowercased()).breached" }
    public static func followUpDue(_ kind: TicketKind) -> String { "followup.\(kind.rawValue).due" }

    /// Every event type the escalation service can publish.
    public static var allTypes: [String] {
        Array(Set(StandardClocks.rules.filter { $0.purpose == .escalation }.map { breached(standard: $0.standard) })).sorted()
            + TicketKind.allCases.map(followUpDue)
    }
}

/// The payload of `escalation.<standard>.breached` and `followup.<kind>.due`.
public struct DeadlineEventPayload: Codable, Sendable, Equatable {
    public var ticketID: UUID
    public var ticketNumber: String
    public var kind: TicketKind
    public var round: Int
    public var ruleID: String
    public var standard: String
    public var title: String
    /// This step's place on the rule's ladder, 1-based, and the ladder's length.
    public var step: Int
    public var steps: Int
    public var startedAt: Date
    public var dueAt: Date
    public var firedAt: Date
    /// How late the firing was against the due time: the engine's own precision.
    public var firingLatenessMs: Int
    /// Who must hear of it: a role in a department (no department: those handling the ticket).
    public var tell: [Recipient]

    enum CodingKeys: String, CodingKey {
        case kind, round, standard, title, step, steps, tell
        case ticketID = "ticket_id"
        case ticketNumber = "ticket_number"
        case ruleID = "rule_id"
        case startedAt = "started_at"
        case dueAt = "due_at"
        case firedAt = "fired_at"
        case firingLatenessMs = "firing_lateness_ms"
    }

    public init(ticketID: UUID, ticketNumber: String, kind: TicketKind, round: Int, ruleID: String, standard: String, title: String,
                step: Int, steps: Int, startedAt: Date, dueAt: Date, firedAt: Date, tell: [Recipient]) {
        self.ticketID = ticketID
        self.ticketNumber = ticketNumber
        self.kind = kind
        self.round = round
        self.ruleID = ruleID
        self.standard = standard
        self.title = title
        self.step = step
        self.steps = steps
        self.startedAt = startedAt
        self.dueAt = dueAt
        self.firedAt = firedAt
        firingLatenessMs = max(0, Int((firedAt.timeIntervalSince(dueAt) * 1000).rounded()))
        self.tell = tell
    }
}
