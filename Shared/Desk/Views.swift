import Domain
import Foundation
import Messaging
import Postgres

/// A ticket as the API shows it. `caller_phone` is masked unless the reader's role calls
/// residents back (P1); `work_orders` and `timeline` are filled for a single ticket's read.
public struct TicketView: Codable, Sendable, Equatable {
    public var id: UUID
    public var property: String
    public var number: String
    public var kind: TicketKind
    public var channel: IntakeChannel
    public var building: String?
    public var unit: String?
    public var callerName: String?
    public var callerPhone: String?
    public var content: String
    public var category: String?
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    public var requestedAt: Date?
    public var takenBy: String
    public var status: TicketStatus
    public var outcome: String?
    public var round: Int
    public var sequence: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var resolvedAt: Date?
    public var workOrders: [WorkOrderView]?
    public var timeline: [TimelineEntry]?

    enum CodingKeys: String, CodingKey {
        case id, property, number, kind, channel, building, unit, content, category, severity, status, outcome, round, sequence, timeline
        case callerName = "caller_name"
        case callerPhone = "caller_phone"
        case emergencyType = "emergency_type"
        case requestedAt = "requested_at"
        case takenBy = "taken_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case resolvedAt = "resolved_at"
        case workOrders = "work_orders"
    }

    /// What routing looks at.
    public var routable: RoutableTicket {
        RoutableTicket(property: property, kind: kind, category: category, content: content, severity: severity,
                       emergencyType: emergencyType)
    }

    /// `3号楼 2单元1202`: where the work is.
    public var place: String? {
        let parts = [building, unit].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }
}

/// One department's share of a ticket.
public struct WorkOrderView: Codable, Sendable, Equatable {
    public var id: UUID
    public var ticketID: UUID
    public var property: String
    public var round: Int
    public var queue: WorkQueue
    public var department: Department
    public var priority: WorkOrderPriority
    public var status: WorkOrderStatus
    public var assignee: String?
    public var ruleID: String?
    public var transferredFrom: UUID?
    public var outcome: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Filled when a work order is read on its own: the ticket it belongs to.
    public var ticket: TicketView?

    enum CodingKeys: String, CodingKey {
        case id, property, round, queue, department, priority, status, assignee, outcome, ticket
        case ticketID = "ticket_id"
        case ruleID = "rule_id"
        case transferredFrom = "transferred_from"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// One line of a ticket's timeline: what happened, who did it, when.
public struct TimelineEntry: Codable, Sendable, Equatable {
    public var sequence: Int
    public var eventID: UUID
    public var type: String
    public var actor: String
    public var role: String?
    public var at: Date
    public var workOrderID: UUID?
    public var detail: JSONValue

    enum CodingKeys: String, CodingKey {
        case sequence, type, actor, role, at, detail
        case eventID = "event_id"
        case workOrderID = "work_order_id"
    }
}

/// A resident from the register, as the caller lookup shows them.
public struct ResidentView: Codable, Sendable, Equatable {
    public var id: UUID
    public var property: String
    public var building: String
    public var unit: String
    public var name: String
    public var phone: String
    public var relation: String
    public var preferredChannel: String
    public var contactConsent: Bool

    enum CodingKeys: String, CodingKey {
        case id, property, building, unit, name, phone, relation
        case preferredChannel = "preferred_channel"
        case contactConsent = "contact_consent"
    }
}

public struct PropertyView: Codable, Sendable, Equatable {
    public var code: String
    public var name: String
    public var ticketPrefix: String
    public var timeZone: String

    enum CodingKeys: String, CodingKey {
        case code, name
        case ticketPrefix = "ticket_prefix"
        case timeZone = "time_zone"
    }
}

/// JSON as the API and the events write it: ISO 8601 times with milliseconds, sorted keys.
public enum DeskJSON {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return e
    }()

    /// Reads rows PostgreSQL rendered with `to_jsonb` (times as `2026-11-23T09:30:00.123456+08:00`)
    /// and request bodies (ISO 8601, strictly: see ``Timestamp``; `2026-02-30` is refused, not
    /// read as 2 March).
    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            if let date = Timestamp.parse(text) { return date }
            let shown = FieldCheck.controlCharacter(in: text) == nil ? String(text.prefix(40)) : "(unreadable)"
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(shown)\" is not \(Timestamp.format)")
        }
        return d
    }()

    public static func rows<T: Decodable>(_ rows: [PostgresRow], as type: T.Type) throws -> [T] {
        try rows.map { try decoder.decode(T.self, from: Data(try $0.decode(0, as: PostgresJSON.self).text.utf8)) }
    }
}
