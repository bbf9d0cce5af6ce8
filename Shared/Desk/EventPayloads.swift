import Domain
import Foundation
import Messaging

/// The payload of every `ticket.<kind>.<event>` event. Confidential fields are masked (P1): the
/// place keeps only the building, the caller's phone its first three and last four digits, and
/// phone numbers typed into the content are masked too.
public struct TicketEventPayload: Codable, Sendable, Equatable {
    public var ticketID: UUID
    public var number: String
    public var kind: TicketKind
    public var channel: IntakeChannel
    public var status: TicketStatus
    public var round: Int
    /// The ticket's timeline position of this event: consumers order a ticket's events by it.
    public var sequence: Int
    public var place: String?
    public var callerPhone: String?
    public var category: String?
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    public var requestedAt: Date?
    public var takenBy: String
    public var summary: String
    public var actor: String
    public var role: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case number, kind, channel, status, round, sequence, place, category, severity, summary, actor, role, note
        case ticketID = "ticket_id"
        case callerPhone = "caller_phone"
        case emergencyType = "emergency_type"
        case requestedAt = "requested_at"
        case takenBy = "taken_by"
    }

    init(ticket t: TicketView, sequence: Int, actor: Actor, note: String?) {
        ticketID = t.id
        number = t.number
        kind = t.kind
        channel = t.channel
        status = t.status
        round = t.round
        self.sequence = sequence
        place = t.place.map(Masking.address)
        callerPhone = t.callerPhone.map(Masking.phone)
        category = t.category
        severity = t.severity
        emergencyType = t.emergencyType
        requestedAt = t.requestedAt
        takenBy = t.takenBy
        summary = Masking.text(String(t.content.prefix(200)))
        self.actor = actor.name
        role = actor.role?.rawValue
        self.note = note.map(Masking.text)
    }
}

/// The payload of every `workorder.<queue>.<event>` event: the order and enough of its ticket
/// for a department worker to see what and where (masked as in ``TicketEventPayload``).
public struct WorkOrderEventPayload: Codable, Sendable, Equatable {
    public var workOrderID: UUID
    public var ticketID: UUID
    public var ticketNumber: String
    public var kind: TicketKind
    public var queue: WorkQueue
    public var department: Department
    public var priority: WorkOrderPriority
    public var status: WorkOrderStatus
    public var assignee: String?
    public var round: Int
    public var sequence: Int
    public var place: String?
    public var summary: String
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    public var ruleID: String?
    public var transferredFrom: UUID?
    public var actor: String
    public var role: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case kind, queue, department, priority, status, assignee, round, sequence, place, summary, severity, actor, role, note
        case workOrderID = "work_order_id"
        case ticketID = "ticket_id"
        case ticketNumber = "ticket_number"
        case emergencyType = "emergency_type"
        case ruleID = "rule_id"
        case transferredFrom = "transferred_from"
    }

    init(order o: WorkOrderView, ticket t: TicketView, sequence: Int, actor: Actor, note: String?) {
        workOrderID = o.id
        ticketID = t.id
        ticketNumber = t.number
        kind = t.kind
        queue = o.queue
        department = o.department
        priority = o.priority
        status = o.status
        assignee = o.assignee
        round = o.round
        self.sequence = sequence
        place = t.place.map(Masking.address)
        summary = Masking.text(String(t.content.prefix(200)))
        severity = t.severity
        emergencyType = t.emergencyType
        ruleID = o.ruleID
        transferredFrom = o.transferredFrom
        self.actor = actor.name
        role = actor.role?.rawValue
        self.note = note.map(Masking.text)
    }
}

/// Who did something: a named member of staff in a role, or a service (`dispatch`).
public struct Actor: Sendable, Equatable {
    public var name: String
    public var role: StaffRole?
    public init(name: String, role: StaffRole?) {
        self.name = name
        self.role = role
    }
    public static let dispatch = Actor(name: "dispatch", role: nil)
}
