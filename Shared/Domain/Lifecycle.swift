/// The states a ticket and a work order move through, and the only moves allowed. Pure: the
/// stores call these inside their transactions; the HTTP API turns ``IllegalTransition`` into 409.

public enum TicketStatus: String, CaseIterable, Codable, Sendable {
    case open, acknowledged
    case onSite = "on_site"
    case resolved, closed, cancelled

    /// Work is still expected: the ticket's clocks run and its work orders are live.
    public var isActive: Bool { [.open, .acknowledged, .onSite].contains(self) }
}

/// What staff do to a ticket. Each is also the last word of its event's type
/// (`ticket.complaint.resolved`); `created` is the first event of every ticket.
public enum TicketAction: String, CaseIterable, Codable, Sendable {
    case acknowledge, onSite = "on_site", note, resolve, close, reopen, cancel

    /// The event word: `acknowledged`, `on_site`, `noted`, `resolved`, …
    public var eventName: String {
        switch self {
        case .acknowledge: "acknowledged"
        case .onSite: "on_site"
        case .note: "noted"
        case .resolve: "resolved"
        case .close: "closed"
        case .reopen: "reopened"
        case .cancel: "cancelled"
        }
    }

    /// The last segment of its route: `POST /tickets/{id}/on-site`.
    public var pathSegment: String {
        switch self {
        case .onSite: "on-site"
        case .note: "notes"
        default: rawValue
        }
    }

    var phrase: String {
        switch self {
        case .acknowledge: "acknowledged"
        case .onSite: "marked on site"
        case .note: "given a progress note"
        case .resolve: "resolved"
        case .close: "closed"
        case .reopen: "reopened"
        case .cancel: "cancelled"
        }
    }
}

/// A move the state machine refuses, with the reason a person can read.
public struct IllegalTransition: Error, Sendable, Equatable, CustomStringConvertible {
    public let subject: String
    public let from: String
    public let action: String
    public let reason: String
    public var description: String { reason }

    public init(subject: String, from: String, action: String, reason: String) {
        self.subject = subject
        self.from = from
        self.action = action
        self.reason = reason
    }
}

public enum TicketLifecycle {
    /// The status after `action`, or why it is not allowed from `status`.
    public static func apply(_ action: TicketAction, to status: TicketStatus) throws(IllegalTransition) -> TicketStatus {
        let next: TicketStatus? = switch (action, status) {
        case (.acknowledge, .open): .acknowledged
        case (.onSite, .open), (.onSite, .acknowledged): .onSite
        case (.note, _) where status != .cancelled: status
        case (.resolve, _) where status.isActive: .resolved
        case (.close, .resolved): .closed
        case (.reopen, .resolved), (.reopen, .closed): .open
        case (.cancel, _) where status.isActive: .cancelled
        default: nil
        }
        guard let next else {
            throw IllegalTransition(subject: "ticket", from: status.rawValue, action: action.rawValue,
                                    reason: "a ticket that is \(status.rawValue.replacingUnderscores) cannot be \(action.phrase)")
        }
        return next
    }

    /// What a work-order step means for its ticket: accepting the first order acknowledges the
    /// ticket, the first arrival puts it on site, and the last order done resolves it. `nil`: the
    /// ticket does not change (the step still goes on its timeline).
    public static func ticketAction(after step: WorkOrderAction, ticket status: TicketStatus,
                                    allOrdersDone: Bool) -> TicketAction? {
        switch step {
        case .accept, .reassign: status == .open ? .acknowledge : nil
        case .onSite: (status == .open || status == .acknowledged) ? .onSite : nil
        case .resolve: (allOrdersDone && status.isActive) ? .resolve : nil
        case .note, .transfer, .release, .cancel: nil
        }
    }
}

/// A work order: one department's share of a ticket (派工单).
public enum WorkOrderStatus: String, CaseIterable, Codable, Sendable {
    /// On the department's queue, nobody has taken it yet.
    case assigned
    case accepted
    case onSite = "on_site"
    case done
    /// Handed to another department; that department has a new order.
    case transferred
    case cancelled

    public var isActive: Bool { [.assigned, .accepted, .onSite].contains(self) }
}

public enum WorkOrderAction: String, CaseIterable, Codable, Sendable {
    /// `reassign`: a supervisor hands the order to a named member of the department.
    case accept, onSite = "on_site", note, resolve, transfer, reassign, release, cancel

    public var eventName: String {
        switch self {
        case .accept: "accepted"
        case .onSite: "on_site"
        case .note: "noted"
        case .resolve: "resolved"
        case .transfer: "transferred"
        case .reassign: "reassigned"
        case .release: "released"
        case .cancel: "cancelled"
        }
    }

    /// The last segment of its route: `POST /work-orders/{id}/on-site`.
    public var pathSegment: String {
        TicketAction(rawValue: rawValue)?.pathSegment ?? rawValue
    }
}

public enum WorkOrderLifecycle {
    public static func apply(_ action: WorkOrderAction, to status: WorkOrderStatus) throws(IllegalTransition) -> WorkOrderStatus {
        let next: WorkOrderStatus? = switch (action, status) {
        case (.accept, .assigned): .accepted
        case (.onSite, .assigned), (.onSite, .accepted): .onSite
        case (.note, _) where status.isActive: status
        case (.resolve, _) where status.isActive: .done
        case (.transfer, _) where status.isActive: .transferred
        case (.reassign, _) where status.isActive: .accepted
        case (.release, .accepted), (.release, .onSite): .assigned
        case (.cancel, _) where status.isActive: .cancelled
        default: nil
        }
        guard let next else {
            throw IllegalTransition(subject: "work order", from: status.rawValue, action: action.rawValue,
                                    reason: "a work order that is \(status.rawValue.replacingUnderscores) cannot be \(action.eventName.replacingUnderscores)")
        }
        return next
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
