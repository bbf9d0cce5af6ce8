import Domain
import Foundation

/// The names of every event intake and dispatch publish. The AsyncAPI document
/// (`docs/asyncapi.yaml`) describes the same set; a test holds the two together.
///
/// - `ticket.<kind>.<event>`: `created`, then one per ``TicketAction`` (`acknowledged`,
///   `on_site`, `noted`, `resolved`, `closed`, `reopened`, `cancelled`), and a follow-up call's
///   outcome (`followed_up`, `follow_up_missed`), a customer-agreed extension (`extended`),
///   and a lent key handed over and back (`key_issued`, `key_returned`).
/// - `workorder.<queue>.<event>`: `assigned`, then one per ``WorkOrderAction``; `<queue>` is a
///   department or `triage`.
///
/// On the wire the routing key adds the property: `ticket.complaint.created.sunrise-garden`.
public enum DeskEvents {
    public static let ticketEvents = ["created"] + TicketAction.allCases.map(\.eventName) + [followedUp, followUpMissed, extended, keyIssued, keyReturned]
    /// A follow-up call reached the resident (the note says satisfied or not), or did not.
    public static let followedUp = "followed_up"
    public static let followUpMissed = "follow_up_missed"
    /// The customer agreed to a later time: the ticket's resolution clocks move to it.
    public static let extended = "extended"
    /// A key of the register was handed over against the ticket, or came back (T9); the ticket's
    /// `requested_at` is the key's due time.
    public static let keyIssued = "key_issued"
    public static let keyReturned = "key_returned"
    public static let workOrderEvents = ["assigned"] + WorkOrderAction.allCases.map(\.eventName)

    public static func ticket(_ kind: TicketKind, _ event: String) -> String { "ticket.\(kind.rawValue).\(event)" }
    public static func workOrder(_ queue: WorkQueue, _ event: String) -> String { "workorder.\(queue.name).\(event)" }

    /// Every event type this module can publish.
    public static var allTypes: [String] {
        TicketKind.allCases.flatMap { kind in ticketEvents.map { ticket(kind, $0) } }
            + WorkQueue.all.flatMap { queue in workOrderEvents.map { workOrder(queue, $0) } }
    }

    /// The bindings of a department's work queue: new work, and work a worker gave back.
    public static func workQueueBindings(_ queue: WorkQueue, property: String) -> [String] {
        ["assigned", WorkOrderAction.release.eventName].map { workOrder(queue, $0) + "." + property }
    }

    /// `propdesk.work.<property>.<queue>`: where one property's department takes its work orders.
    public static func workQueueName(_ queue: WorkQueue, property: String) -> String {
        "propdesk.work.\(property).\(queue.name)"
    }
}

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
    /// A ticket's clocks moved — started, met, cancelled, or moved by an extension — in the
    /// transaction that moved them: what a page showing its clocks reads anew.
    public static let clocksChanged = "escalation.clocks.changed"

    /// Every event type the escalation service can publish.
    public static var allTypes: [String] {
        Array(Set(StandardClocks.rules.filter { $0.purpose == .escalation }.map { breached(standard: $0.standard) }
                  + MoneyClocks.rules.map { breached(standard: $0.standard) })).sorted()
            + TicketKind.allCases.map(followUpDue) + [clocksChanged]
    }
}

/// The payload of `escalation.clocks.changed`: whose clocks, in which round, because of which
/// event, and what happened to them.
public struct ClocksChangedPayload: Codable, Sendable, Equatable {
    public var ticketID: UUID
    public var round: Int
    /// The event type that moved them (`ticket.repair.acknowledged`, …).
    public var cause: String
    /// Rules whose clocks started, and rules met.
    public var started: [String]
    public var met: [String]
    /// Pending steps were cancelled (a cancelled or reopened ticket) or moved (an extension).
    public var cancelled: Bool
    public var moved: Bool

    enum CodingKeys: String, CodingKey {
        case round, cause, started, met, cancelled, moved
        case ticketID = "ticket_id"
    }

    public init(ticketID: UUID, round: Int, cause: String, started: [String], met: [String], cancelled: Bool, moved: Bool) {
        self.ticketID = ticketID
        self.round = round
        self.cause = cause
        self.started = started
        self.met = met
        self.cancelled = cancelled
        self.moved = moved
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

/// The events the notification service publishes. The AsyncAPI document describes the same set.
public enum NotificationEvents {
    /// A delivery gave up (every channel of the person failed), its outcome is unknown, or the SMS
    /// gateway's receipt says it never arrived and no contact is left.
    public static let deliveryFailed = "notification.delivery.failed"
    /// The SMS gateway's receipt says the phone has the message.
    public static let deliveryDelivered = "notification.delivery.delivered"
    /// Nobody was on duty in a role an event needed; the next role up was told.
    public static let rosterGap = "notification.roster.gap"
    public static let allTypes = [deliveryFailed, deliveryDelivered, rosterGap]
}

/// `notification.delivery.failed` and `notification.delivery.delivered`: who was (not) reached,
/// about which event, the delivery's state (`failed`, `unknown`, `delivered`) and why. The address
/// is left out (a resident's is confidential); `recipient` is a person's roster name or
/// `resident:<id>`.
public struct DeliveryFailedPayload: Codable, Sendable, Equatable {
    public var deliveryID: Int64
    public var state: String
    public var eventID: UUID
    public var eventType: String
    public var ticketID: UUID?
    public var recipient: String
    public var audience: String
    public var channel: String
    public var template: String
    public var attempts: Int
    public var reason: String

    public init(deliveryID: Int64, state: String, eventID: UUID, eventType: String, ticketID: UUID?, recipient: String, audience: String,
                channel: String, template: String, attempts: Int, reason: String) {
        self.deliveryID = deliveryID
        self.state = state
        self.eventID = eventID
        self.eventType = eventType
        self.ticketID = ticketID
        self.recipient = recipient
        self.audience = audience
        self.channel = channel
        self.template = template
        self.attempts = attempts
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case recipient, audience, channel, template, attempts, reason, state
        case deliveryID = "delivery_id"
        case eventID = "event_id"
        case eventType = "event_type"
        case ticketID = "ticket_id"
    }
}

/// `notification.roster.gap`: the role asked for, every role passed on the way up with nobody
/// on duty (`role/department`), and the role finally reached (none: nobody at all).
public struct RosterGapPayload: Codable, Sendable, Equatable {
    public var eventType: String
    public var asked: String
    public var emptyRoles: [String]
    public var reachedAs: String?

    public init(eventType: String, asked: String, emptyRoles: [String], reachedAs: String?) {
        self.eventType = eventType
        self.asked = asked
        self.emptyRoles = emptyRoles
        self.reachedAs = reachedAs
    }

    enum CodingKeys: String, CodingKey {
        case asked
        case eventType = "event_type"
        case emptyRoles = "empty_roles"
        case reachedAs = "reached_as"
    }
}

/// A delivery's dedupe key, the one format (the receiver sees it as the webhook's
/// `Idempotency-Key` and the e-mail's `Message-ID`): `<event id>/<recipient>/<channel>` for the
/// person's first contact, `…/<channel>/<n>` for their n-th, a fallback. A second contact on the
/// same channel is a delivery of its own, never a collision with the first.
public enum DeliveryKey {
    public static func make(event: UUID, recipient: String, channel: String, position: Int) -> String {
        let key = "\(event.uuidString.lowercased())/\(recipient)/\(channel)"
        return position <= 1 ? key : key + "/\(position)"
    }
}
