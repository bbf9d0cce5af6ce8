/// Department routing (dispatch): which departments get a work order for a ticket. The rules are
/// data (table `routing_rules`, seeded from STANDARDS.md, per property); this is how they are read.

/// Where a work order waits: a department's queue, or customer service's triage queue for what
/// no rule matched (a person decides; nothing is dropped).
public enum WorkQueue: Hashable, Sendable, Codable {
    case department(Department)
    case triage

    public var name: String {
        switch self {
        case .department(let d): d.rawValue
        case .triage: "triage"
        }
    }

    /// The department that owns work in this queue: triage belongs to customer service.
    public var department: Department {
        switch self {
        case .department(let d): d
        case .triage: .customerService
        }
    }

    public init?(name: String) {
        if name == "triage" { self = .triage } else if let d = Department(rawValue: name) { self = .department(d) } else { return nil }
    }

    public static var all: [WorkQueue] { Department.allCases.map(WorkQueue.department) + [.triage] }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let queue = WorkQueue(name: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown work queue \(name)"))
        }
        self = queue
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}

/// One routing rule. Every criterion that is not empty must match; rules are tried in `position`
/// order, a property's own rules before the defaults, and the first that matches decides.
public struct RoutingRule: Sendable, Equatable, Codable {
    public var id: String
    /// The STANDARDS.md rule it implements (`R2`, `T2`…), for the record.
    public var standard: String?
    /// `nil`: applies to every property that has no rule of its own that matches first.
    public var property: String?
    public var position: Int
    public var kinds: [TicketKind]
    /// Matched case-insensitively against the ticket's category.
    public var categories: [String]
    /// Matched case-insensitively as substrings of the category and content (Chinese and English).
    public var keywords: [String]
    public var emergencyTypes: [EmergencyType]
    public var departments: [Department]
    public var priority: WorkOrderPriority

    enum CodingKeys: String, CodingKey {
        case id, standard, property, position, kinds, categories, keywords, departments, priority
        case emergencyTypes = "emergency_types"
    }

    public init(id: String, standard: String? = nil, property: String? = nil, position: Int, kinds: [TicketKind] = [],
                categories: [String] = [], keywords: [String] = [], emergencyTypes: [EmergencyType] = [],
                departments: [Department], priority: WorkOrderPriority = .normal) {
        self.id = id
        self.standard = standard
        self.property = property
        self.position = position
        self.kinds = kinds
        self.categories = categories
        self.keywords = keywords
        self.emergencyTypes = emergencyTypes
        self.departments = departments
        self.priority = priority
    }

    public func matches(_ ticket: RoutableTicket) -> Bool {
        if !kinds.isEmpty, !kinds.contains(ticket.kind) { return false }
        if !emergencyTypes.isEmpty {
            guard let type = ticket.emergencyType, emergencyTypes.contains(type) else { return false }
        }
        let category = ticket.category?.lowercased()
        if !categories.isEmpty {
            guard let category, categories.contains(where: { $0.lowercased() == category }) else { return false }
        }
        if !keywords.isEmpty {
            let text = ((category ?? "") + "\n" + ticket.content).lowercased()
            guard keywords.contains(where: { text.contains($0.lowercased()) }) else { return false }
        }
        return true
    }
}

/// What routing needs to know of a ticket.
public struct RoutableTicket: Sendable, Equatable {
    public var property: String
    public var kind: TicketKind
    public var category: String?
    public var content: String
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?

    public init(property: String, kind: TicketKind, category: String? = nil, content: String,
                severity: ComplaintSeverity? = nil, emergencyType: EmergencyType? = nil) {
        self.property = property
        self.kind = kind
        self.category = category
        self.content = content
        self.severity = severity
        self.emergencyType = emergencyType
    }
}

public struct RoutingDecision: Sendable, Equatable {
    /// One work order per queue, in the rule's order.
    public var queues: [WorkQueue]
    public var priority: WorkOrderPriority
    /// The rule that decided, `nil` for triage.
    public var ruleID: String?
}

public enum DepartmentRouter {
    /// The first matching rule (the ticket's property's own rules first, then the defaults, each
    /// by position) decides. No match → customer-service triage. Emergencies are always
    /// `urgent` (R2) and a major complaint at least `high` (C3).
    public static func route(_ ticket: RoutableTicket, rules: [RoutingRule]) -> RoutingDecision {
        let ordered = rules
            .filter { $0.property == nil || $0.property == ticket.property }
            .sorted { ($0.property == nil ? 1 : 0, $0.position, $0.id) < ($1.property == nil ? 1 : 0, $1.position, $1.id) }
        var decision = if let rule = ordered.first(where: { $0.matches(ticket) }), !rule.departments.isEmpty {
            RoutingDecision(queues: rule.departments.uniqued().map(WorkQueue.department), priority: rule.priority, ruleID: rule.id)
        } else {
            RoutingDecision(queues: [.triage], priority: .normal, ruleID: nil)
        }
        if ticket.kind == .emergency { decision.priority = .urgent }
        if ticket.severity == .major { decision.priority = max(decision.priority, .high) }
        return decision
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
