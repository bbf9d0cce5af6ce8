import Domain
import Foundation
import Postgres

/// The live board's rows: every ticket that is still open (not closed or cancelled) with the next
/// step due on its clocks, the departments holding it and whether a step fell due unmet. What a
/// row shows is what a list may show (P1): no caller, no unit, numbers in the text masked.
public struct BoardRow: Codable, Sendable, Equatable {
    public var id: UUID
    public var property: String
    public var number: String
    public var kind: TicketKind
    public var status: TicketStatus
    public var category: String?
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    /// The content, with any number in it masked.
    public var summary: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Every department with a work order on the ticket: who may see the row.
    public var departments: [Department]
    /// The departments whose work orders are still live: who holds it now.
    public var holding: [Department]
    /// The next pending step of the ticket's clocks, if any runs.
    public var next: DueStep?
    /// A step fell due and its condition is still unmet.
    public var breached: Bool

    public init(id: UUID, property: String, number: String, kind: TicketKind, status: TicketStatus, category: String?,
                severity: ComplaintSeverity?, emergencyType: EmergencyType?, summary: String, createdAt: Date, updatedAt: Date,
                departments: [Department], holding: [Department], next: DueStep?, breached: Bool) {
        self.id = id
        self.property = property
        self.number = number
        self.kind = kind
        self.status = status
        self.category = category
        self.severity = severity
        self.emergencyType = emergencyType
        self.summary = summary
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.departments = departments
        self.holding = holding
        self.next = next
        self.breached = breached
    }

    /// Not on the board any more (closed or cancelled): a live update removes the row.
    public var isOpen: Bool { status != .closed && status != .cancelled }

    enum CodingKeys: String, CodingKey {
        case id, property, number, kind, status, category, severity, summary, departments, holding, next, breached
        case emergencyType = "emergency_type"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// The row as `scope` may see it: of the holders, only the scope's departments.
    public func narrowed(to scope: AccessScope) -> BoardRow {
        guard let mine = scope.departments else { return self }
        var row = self
        row.holding = holding.filter(mine.contains)
        return row
    }

    /// Whether `scope` reaches the ticket: its property, and for department staff a work order of
    /// one of their departments (the same rule as ``TicketStore/reaches(_:ticket:on:)``).
    public func visible(to scope: AccessScope) -> Bool {
        scope.covers(property: property) && (scope.departments.map { mine in departments.contains(where: mine.contains) } ?? true)
    }
}

/// One step of a running clock, as the board and a ticket's page show it.
public struct DueStep: Codable, Sendable, Equatable {
    public var ruleID: String
    public var standard: String
    public var title: String
    public var step: Int
    public var steps: Int
    public var startedAt: Date
    public var dueAt: Date

    enum CodingKeys: String, CodingKey {
        case standard, title, step, steps
        case ruleID = "rule_id"
        case startedAt = "started_at"
        case dueAt = "due_at"
    }
}

/// Every step of one ticket's clocks, for its page: met (when), breached (fired; met later or
/// not yet), running (pending) or cancelled.
public struct ClockStepView: Codable, Sendable, Equatable {
    public var round: Int
    public var ruleID: String
    public var standard: String
    public var title: String
    public var purpose: String
    public var step: Int
    public var steps: Int
    public var startedAt: Date
    public var dueAt: Date
    public var state: String
    public var firedAt: Date?
    public var metAt: Date?

    enum CodingKeys: String, CodingKey {
        case round, standard, title, purpose, step, steps, state
        case ruleID = "rule_id"
        case startedAt = "started_at"
        case dueAt = "due_at"
        case firedAt = "fired_at"
        case metAt = "met_at"
    }
}

/// The board's filters, as its form and the live stream's query give them.
public struct BoardFilter: Sendable, Equatable {
    public var property: String?
    public var department: Department?
    public var kind: TicketKind?
    public var status: TicketStatus?
    /// Only tickets with a step that fell due unmet.
    public var overdue = false

    public init(property: String? = nil, department: Department? = nil, kind: TicketKind? = nil, status: TicketStatus? = nil,
                overdue: Bool = false) {
        self.property = property
        self.department = department
        self.kind = kind
        self.status = status
        self.overdue = overdue
    }

    /// Whether a row belongs on a board with these filters (a live update that no longer does
    /// removes it).
    public func admits(_ row: BoardRow) -> Bool {
        row.isOpen
            && property.map { $0 == row.property } ?? true
            && department.map { row.departments.contains($0) } ?? true
            && kind.map { $0 == row.kind } ?? true
            && status.map { $0 == row.status } ?? true
            && (!overdue || row.breached)
    }
}

extension TicketStore {
    /// The most rows a board shows.
    public static let boardLimit = 2000
    /// How much of a ticket's content a row shows.
    public static let summaryLength = 120

    /// The open tickets `scope` reaches that `filter` admits, the next due first (tickets with no
    /// running clock last, newest first). `ids`: only these tickets, open or not, for any scope
    /// (nil: a live update, narrowed per reader with ``BoardRow/visible(to:)`` and ``BoardRow/narrowed(to:)``).
    public static func board(_ filter: BoardFilter, within scope: AccessScope?, ids: [UUID]? = nil, on c: PostgresConnection) throws -> [BoardRow] {
        var conditions: [String] = []
        var parameters: [any PostgresEncodable] = []
        func add(_ condition: (String) -> String, _ value: any PostgresEncodable) {
            parameters.append(value)
            conditions.append(condition("$\(parameters.count)"))
        }
        if let ids {
            add({ "t.id = ANY(\($0)::uuid[])" }, PostgresArray(ids.map { $0.uuidString.lowercased() }))
        } else {
            conditions.append("t.status NOT IN ('closed', 'cancelled')")
            if let p = filter.property { add({ "t.property = \($0)" }, p) }
            if let s = filter.status { add({ "t.status = \($0)" }, s.rawValue) }
            if let k = filter.kind { add({ "t.kind = \($0)" }, k.rawValue) }
            if let d = filter.department { add({ "EXISTS (SELECT 1 FROM work_orders fw WHERE fw.ticket_id = t.id AND fw.department = \($0))" }, d.rawValue) }
            if filter.overdue { conditions.append("EXISTS (SELECT 1 FROM deadlines od WHERE od.ticket_id = t.id AND od.state = 'fired' AND od.met_at IS NULL)") }
        }
        var scopeSQL = ""
        if let scope {
            let (sql, values) = scopeCondition(scope, first: parameters.count + 1)
            scopeSQL = sql
            parameters += values
        }
        parameters.append(boardLimit)
        let sql = """
            SELECT jsonb_build_object(
                'id', t.id, 'property', t.property, 'number', t.number, 'kind', t.kind, 'status', t.status,
                'category', t.category, 'severity', t.severity, 'emergency_type', t.emergency_type, 'summary', t.content,
                'created_at', t.created_at, 'updated_at', t.updated_at,
                'departments', coalesce((SELECT jsonb_agg(DISTINCT w.department) FROM work_orders w WHERE w.ticket_id = t.id), '[]'),
                'holding', coalesce((SELECT jsonb_agg(DISTINCT w.department) FROM work_orders w
                                     WHERE w.ticket_id = t.id AND w.status IN ('assigned', 'accepted', 'on_site')), '[]'),
                'next', n.next,
                'breached', EXISTS (SELECT 1 FROM deadlines b WHERE b.ticket_id = t.id AND b.state = 'fired' AND b.met_at IS NULL))
            FROM tickets t
            LEFT JOIN LATERAL (
                SELECT d.due_at, jsonb_build_object('rule_id', d.rule_id, 'standard', d.standard, 'title', d.title, 'step', d.step,
                                                    'steps', d.steps, 'started_at', d.started_at, 'due_at', d.due_at) AS next
                FROM deadlines d WHERE d.ticket_id = t.id AND d.state = 'pending' ORDER BY d.due_at LIMIT 1) n ON true
            WHERE \(conditions.joined(separator: " AND "))\(scopeSQL)
            ORDER BY n.due_at NULLS LAST, t.created_at DESC
            LIMIT $\(parameters.count)
            """
        return try DeskJSON.rows(c.query(sql, parameters), as: BoardRow.self).map { row in
            var row = scope.map(row.narrowed) ?? row
            row.summary = Masking.text(String(row.summary.prefix(summaryLength)))
            return row
        }
    }

    /// Every step of the ticket's clocks, by round, rule and step.
    public static func clocks(ticket id: UUID, on c: PostgresConnection) throws -> [ClockStepView] {
        try DeskJSON.rows(c.query("""
            SELECT jsonb_build_object('round', round, 'rule_id', rule_id, 'standard', standard, 'title', title, 'purpose', purpose,
                                      'step', step, 'steps', steps, 'started_at', started_at, 'due_at', due_at, 'state', state,
                                      'fired_at', fired_at, 'met_at', met_at)
            FROM deadlines WHERE ticket_id = $1 ORDER BY round, started_at, rule_id, step, id
            """, [id]), as: ClockStepView.self)
    }
}

/// A clock step with its ticket, for the supervisor's lists.
public struct TicketClockStep: Codable, Sendable, Equatable {
    public var ticketID: UUID
    public var number: String
    public var step: ClockStepView
    public var holding: [Department]

    enum CodingKeys: String, CodingKey {
        case number, step, holding
        case ticketID = "ticket_id"
    }
}

/// A department's live work order with what its queue shows of the ticket.
public struct QueuedWorkOrder: Codable, Sendable, Equatable {
    public var order: WorkOrderView
    public var number: String
    /// The ticket's content, numbers masked.
    public var summary: String
}

extension TicketStore {
    /// Which steps of a property's clocks a supervisor's list shows.
    public enum StepList: Sendable {
        /// Running and due within this many seconds (or already late).
        case dueWithin(seconds: Int)
        /// Fired since the start of the property's own today.
        case breachedToday
        /// Follow-up calls owed: running, or fell due and not yet made.
        case followUpsOwed
    }

    /// The property's clock steps in `list`, inside `scope`, soonest due first (at most 500).
    public static func steps(_ list: StepList, property: String, within scope: AccessScope, on c: PostgresConnection) throws -> [TicketClockStep] {
        var parameters: [any PostgresEncodable] = [property]
        let condition: String
        switch list {
        case .dueWithin(let seconds):
            parameters.append(seconds)
            condition = "d.state = 'pending' AND d.due_at <= now() + make_interval(secs => $2::integer)"
        case .breachedToday:
            condition = "d.state = 'fired' AND d.fired_at >= (date_trunc('day', now() AT TIME ZONE p.time_zone) AT TIME ZONE p.time_zone)"
        case .followUpsOwed:
            condition = "d.purpose = 'follow_up' AND (d.state = 'pending' OR (d.state = 'fired' AND d.met_at IS NULL))"
        }
        let (scopeSQL, scopeValues) = scopeCondition(scope, first: parameters.count + 1)
        return try DeskJSON.rows(c.query("""
            SELECT jsonb_build_object('ticket_id', t.id, 'number', t.number,
                'holding', coalesce((SELECT jsonb_agg(DISTINCT w.department) FROM work_orders w
                                     WHERE w.ticket_id = t.id AND w.status IN ('assigned', 'accepted', 'on_site')), '[]'),
                'step', jsonb_build_object('round', d.round, 'rule_id', d.rule_id, 'standard', d.standard, 'title', d.title,
                                           'purpose', d.purpose, 'step', d.step, 'steps', d.steps, 'started_at', d.started_at,
                                           'due_at', d.due_at, 'state', d.state, 'fired_at', d.fired_at, 'met_at', d.met_at))
            FROM deadlines d JOIN tickets t ON t.id = d.ticket_id JOIN properties p ON p.code = t.property
            WHERE t.property = $1 AND t.status <> 'cancelled' AND \(condition)\(scopeSQL)
            ORDER BY d.due_at LIMIT 500
            """, parameters + scopeValues), as: TicketClockStep.self).map { step in
            var step = step
            if let mine = scope.departments { step.holding = step.holding.filter(mine.contains) }
            return step
        }
    }

    /// The live work orders of `departments` inside `scope`: most urgent first, then oldest.
    public static func workQueue(_ departments: [Department], within scope: AccessScope, on c: PostgresConnection) throws -> [QueuedWorkOrder] {
        let (scopeSQL, scopeValues) = scopeCondition(workOrder: scope, first: 2)
        return try c.query("""
            SELECT to_jsonb(w), t.number, t.content
            FROM work_orders w JOIN tickets t ON t.id = w.ticket_id
            WHERE w.status IN ('assigned', 'accepted', 'on_site') AND w.department = ANY($1::text[])\(scopeSQL)
            ORDER BY array_position(ARRAY['urgent', 'high', 'normal', 'low'], w.priority), w.created_at
            LIMIT 500
            """, [PostgresArray(departments.map(\.rawValue))] + scopeValues).map { row in
            let order = try DeskJSON.decoder.decode(WorkOrderView.self, from: Data(try row.decode(0, as: PostgresJSON.self).text.utf8))
            return QueuedWorkOrder(order: order, number: try row.decode(1),
                                   summary: Masking.text(String(try row.decode(2, as: String.self).prefix(summaryLength))))
        }
    }

    /// The oldest, most urgent order waiting on one of `department`'s queues inside `scope`,
    /// locked for this transaction; orders other transactions hold are skipped, so two people
    /// taking at once get different orders. Nil when none waits.
    public static func nextWaiting(_ department: Department, within scope: AccessScope, on c: PostgresConnection) throws -> UUID? {
        let (scopeSQL, scopeValues) = scopeCondition(workOrder: scope, first: 2)
        return try c.query("""
            SELECT w.id FROM work_orders w
            WHERE w.status = 'assigned' AND w.department = $1\(scopeSQL)
            ORDER BY array_position(ARRAY['urgent', 'high', 'normal', 'low'], w.priority), w.created_at
            LIMIT 1 FOR UPDATE SKIP LOCKED
            """, [department.rawValue] + scopeValues).first.map { try $0.decode(0) }
    }
}
