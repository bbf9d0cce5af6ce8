import Domain
import Foundation

/// The events the billing service publishes, `billing.<entity>.<event>` (on the wire with the
/// property: `billing.payment.received.sunrise-garden`). Every one carries a
/// ``BillingEventPayload``. The AsyncAPI document describes the same set.
public enum BillingEvents {
    public static let events: [String: [String]] = [
        "price_list": ["published"],
        "quote": ["issued", "accepted", "declined"],
        "dispute": ["opened", "resolved"],
        "charge": ["posted"],
        "payment": ["received", "refunded"],
        "receipt": ["voided"],
        "approval": ["requested", "decided", "completed"],
        "bill_run": ["issued"],
        "bill": ["paid"],
        "dunning": ["stepped"],
        "deposit": ["taken", "refunded", "forfeited"],
    ]

    /// `billing.<entity>.<event>`; `entity.event` must be one of ``events``.
    public static func type(_ entity: String, _ event: String) -> String {
        precondition(events[entity]?.contains(event) == true, "no billing event \(entity).\(event)")
        return "billing.\(entity).\(event)"
    }

    public static var allTypes: [String] {
        events.keys.sorted().flatMap { entity in events[entity]!.map { "billing.\(entity).\($0)" } }
    }

    /// What the escalation service binds for the money clocks: the events that start or stop
    /// one of ``MoneyClocks/rules`` (not every payment: a payment moves no clock). A property's
    /// own rule may use only these events.
    public static var clockBindings: [String] {
        let names = MoneyClocks.rules.flatMap { [String($0.starts.split(separator: ":")[0])] + $0.stops }
        return Array(Set(names)).sorted().map { "billing.\($0).#" }
    }

    /// The money clocks' firings the billing service acts on: the dunning ladder's steps (B6) and
    /// the loaned item not returned (B7).
    public static let firingsBound = [EscalationEvents.breached(standard: "B6") + ".#", EscalationEvents.breached(standard: "B7") + ".#"]
}

/// The payload of every `billing.*` event. `subject` names what it is about (`quote`, `payment`,
/// `approval_step`, `bill`, …) and `subject_id` which one; `reference` is the number people use
/// (a receipt number, a ticket number, a bill's unit and period). Nothing confidential: a unit is
/// masked to its building, as in tickets' events (P1).
public struct BillingEventPayload: Codable, Sendable, Equatable {
    public var subject: String
    public var subjectID: UUID
    public var reference: String
    public var amountFen: Int64?
    public var ticketID: UUID?
    /// Approval steps and disputes: who must act (notification tells them; the money clock's
    /// first step reminds them).
    public var recipients: [Recipient]?
    /// When the clock this event starts counts from, if not the event's time (a bill's due date).
    public var clockFrom: Date?
    /// Dunning: the stage reached, and its evidence.
    public var stage: String?
    public var channel: String?
    public var trackingNumber: String?
    /// The resident a fee reminder goes to (notification looks up their contact and consent).
    public var residentID: UUID?
    public var place: String?
    public var action: String?
    public var decision: String?
    public var actor: String
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case subject, reference, recipients, stage, channel, place, action, decision, actor, note
        case subjectID = "subject_id"
        case amountFen = "amount_fen"
        case ticketID = "ticket_id"
        case clockFrom = "clock_from"
        case trackingNumber = "tracking_number"
        case residentID = "resident_id"
    }

    public init(subject: String, subjectID: UUID, reference: String, amountFen: Int64? = nil, ticketID: UUID? = nil,
                recipients: [Recipient]? = nil, clockFrom: Date? = nil, stage: String? = nil, channel: String? = nil,
                trackingNumber: String? = nil, residentID: UUID? = nil, place: String? = nil, action: String? = nil,
                decision: String? = nil, actor: String, note: String? = nil) {
        self.subject = subject
        self.subjectID = subjectID
        self.reference = reference
        self.amountFen = amountFen
        self.ticketID = ticketID
        self.recipients = recipients
        self.clockFrom = clockFrom
        self.stage = stage
        self.channel = channel
        self.trackingNumber = trackingNumber
        self.residentID = residentID
        self.place = place
        self.action = action
        self.decision = decision
        self.actor = actor
        self.note = note
    }
}

/// The payload of `escalation.<b3|b4|b6|b7>.breached`: a money clock's step fell due unmet.
public struct MoneyDeadlinePayload: Codable, Sendable, Equatable {
    public var subject: String
    public var subjectID: UUID
    public var reference: String
    public var ruleID: String
    public var standard: String
    public var title: String
    public var step: Int
    public var steps: Int
    public var startedAt: Date
    public var dueAt: Date
    public var firedAt: Date
    public var firingLatenessMs: Int
    public var tell: [Recipient]

    enum CodingKeys: String, CodingKey {
        case subject, reference, standard, title, step, steps, tell
        case subjectID = "subject_id"
        case ruleID = "rule_id"
        case startedAt = "started_at"
        case dueAt = "due_at"
        case firedAt = "fired_at"
        case firingLatenessMs = "firing_lateness_ms"
    }

    public init(subject: String, subjectID: UUID, reference: String, ruleID: String, standard: String, title: String, step: Int,
                steps: Int, startedAt: Date, dueAt: Date, firedAt: Date, tell: [Recipient]) {
        self.subject = subject
        self.subjectID = subjectID
        self.reference = reference
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
