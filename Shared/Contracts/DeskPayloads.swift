import Domain
import Foundation

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

    public init(
        ticketID: UUID, number: String, kind: TicketKind, channel: IntakeChannel, status: TicketStatus, round: Int,
        sequence: Int, place: String?, callerPhone: String?, category: String?, severity: ComplaintSeverity?,
        emergencyType: EmergencyType?, requestedAt: Date?, takenBy: String, summary: String, actor: String,
        role: String?, note: String?
    ) {
        self.ticketID = ticketID
        self.number = number
        self.kind = kind
        self.channel = channel
        self.status = status
        self.round = round
        self.sequence = sequence
        self.place = place
        self.callerPhone = callerPhone
        self.category = category
        self.severity = severity
        self.emergencyType = emergencyType
        self.requestedAt = requestedAt
        self.takenBy = takenBy
        self.summary = summary
        self.actor = actor
        self.role = role
        self.note = note
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

    public init(
        workOrderID: UUID, ticketID: UUID, ticketNumber: String, kind: TicketKind, queue: WorkQueue,
        department: Department, priority: WorkOrderPriority, status: WorkOrderStatus, assignee: String?, round: Int,
        sequence: Int, place: String?, summary: String, severity: ComplaintSeverity?, emergencyType: EmergencyType?,
        ruleID: String?, transferredFrom: UUID?, actor: String, role: String?, note: String?
    ) {
        self.workOrderID = workOrderID
        self.ticketID = ticketID
        self.ticketNumber = ticketNumber
        self.kind = kind
        self.queue = queue
        self.department = department
        self.priority = priority
        self.status = status
        self.assignee = assignee
        self.round = round
        self.sequence = sequence
        self.place = place
        self.summary = summary
        self.severity = severity
        self.emergencyType = emergencyType
        self.ruleID = ruleID
        self.transferredFrom = transferredFrom
        self.actor = actor
        self.role = role
        self.note = note
    }
}
