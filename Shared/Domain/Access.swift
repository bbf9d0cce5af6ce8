import Foundation

/// What a route lets its caller do. Every HTTP route names one (`x-propdesk-permission` in
/// `docs/openapi.yaml`); ``AccessPolicy`` says which roles hold it and over what scope.
public enum Permission: String, CaseIterable, Codable, Sendable {
    /// Their own session: who am I, sign out, a token for a program.
    case session
    case propertiesRead = "properties.read"
    /// Look a caller up in the register (numbers masked for roles that do not call back).
    case callersLookup = "callers.lookup"
    case ticketsCreate = "tickets.create"
    case ticketsRead = "tickets.read"
    /// Acknowledge, on site, note, resolve.
    case ticketsWork = "tickets.work"
    /// What the desk records from the phone: close, reopen, cancel, follow-up calls, extensions.
    case ticketsDesk = "tickets.desk"
    case workOrdersRead = "work_orders.read"
    /// Accept, on site, note, resolve, release, transfer.
    case workOrdersWork = "work_orders.work"
    /// Hand a work order to a named person.
    case workOrdersReassign = "work_orders.reassign"
    case reportsRead = "reports.read"
    /// Ask to read one resident's file, with a reason (P1).
    case residentsRequest = "residents.request"
    /// Read a resident's file: directly for the roles that call residents back, otherwise only
    /// with an approved, unexpired request (``AccessPolicy/needsApprovalToRead(_:)``). Every read,
    /// and every refused read, is an audit row.
    case residentsRead = "residents.read"
    /// Approve or refuse a request to read a file; see who read a resident's file.
    case residentsApprove = "residents.approve"
    /// Recompute running deadlines after a policy change (escalation).
    case policiesReplan = "policies.replan"
    /// Write, sign and amend the shift handover of one's departments, and read them (P2).
    case handovers
    /// The key register: read it, lend and take back keys, the daily count (T9).
    case keysLend = "keys.lend"
    /// Add keys to the register.
    case keysManage = "keys.manage"
    /// Approve or refuse lending a special room's key (T9: a department head).
    case keysApprove = "keys.approve"
    /// Draw a satisfaction survey's sample from the register (F5).
    case surveysManage = "surveys.manage"
    // Billing (B1–B8), on the billing service.
    /// Read the price list (open to anyone when the property publishes it).
    case pricesRead = "prices.read"
    /// Publish a new version of the price list.
    case pricesManage = "prices.manage"
    /// Read quotes, charges, receipts, approvals, bills, deposits and statements.
    case billingRead = "billing.read"
    /// Price paid work: a listed item or an on-site quote, by the responsible department.
    case quotesWrite = "quotes.write"
    /// Record what the resident says to a price: accepted, declined, disputed.
    case quotesAnswer = "quotes.answer"
    /// Settle a disputed price (B3: the department head).
    case disputesResolve = "disputes.resolve"
    /// Take a payment or a deposit, and give the receipt.
    case paymentsTake = "payments.take"
    /// Void a receipt or refund a payment.
    case paymentsReverse = "payments.reverse"
    /// Submit a work order's repair cost for approval.
    case approvalsSubmit = "approvals.submit"
    /// Decide an approval step named for one of your roles (B4).
    case approvalsDecide = "approvals.decide"
    /// Units, fee bills, the dunning ladder's evidence, late fees, contractors' deposits.
    case feesManage = "fees.manage"
}

/// Who may do what: role × permission, and whether a role sees a whole property or only its own
/// departments' work. The one declaration; the README's "Who may do what" table is checked
/// against it, and a test sends every route as every role.
public enum AccessPolicy {
    /// The roles holding each permission. The desk's rules carry over from before accounts
    /// existed: close, reopen and cancel belong to the desk (``StaffRole/worksTheDesk``),
    /// reassigning to supervisors (``StaffRole/supervises``), replanning to managers.
    public static func roles(_ permission: Permission) -> Set<StaffRole> {
        let everyone = Set(StaffRole.allCases)
        let ticketWork = everyone.subtracting([.finance])
        switch permission {
        case .session, .propertiesRead, .residentsRequest: return everyone
        case .callersLookup, .ticketsRead, .ticketsWork, .workOrdersRead, .workOrdersWork: return ticketWork
        case .ticketsCreate: return ticketWork.subtracting([.technician])
        // The reports are counts, no resident's data: the desk works its follow-up list from them.
        case .ticketsDesk, .reportsRead: return everyone.filter(\.worksTheDesk)
        case .workOrdersReassign: return everyone.filter(\.supervises)
        case .residentsRead: return everyone  // with an approved request for the roles needsApprovalToRead names
        case .residentsApprove: return [.supervisor, .departmentManager, .viceGeneralManager, .generalManager]
        case .policiesReplan, .keysApprove: return everyone.filter { $0.supervises && $0 != .supervisor }
        case .handovers, .keysLend: return ticketWork
        case .keysManage, .surveysManage: return everyone.filter(\.supervises)
        case .pricesRead: return everyone
        case .pricesManage: return [.finance, .generalManager, .viceGeneralManager]
        case .billingRead: return everyone.subtracting([.technician, .controlRoom])
        case .quotesWrite, .approvalsSubmit: return [.technician, .supervisor, .departmentManager, .chiefEngineer]
        case .quotesAnswer: return everyone.filter(\.worksTheDesk)
        case .disputesResolve, .approvalsDecide: return [.departmentManager, .chiefEngineer, .viceGeneralManager, .generalManager]
        case .paymentsTake: return [.operator_, .supervisor, .finance]
        case .paymentsReverse, .feesManage: return [.finance]
        }
    }

    /// Roles that see only the tickets and work orders of their own departments (at their
    /// properties); the others see whole properties.
    public static let departmentBound: Set<StaffRole> = [.technician, .departmentManager, .chiefEngineer, .controlRoom]

    /// Roles that must sign in with a second factor: those that read residents' files or approve
    /// money or file reads.
    public static func needsSecondFactor(_ role: StaffRole) -> Bool {
        role.seesResidentContact || role == .finance || roles(.residentsApprove).contains(role)
    }

    /// Roles that read a resident's file only with an approved request.
    public static func needsApprovalToRead(_ role: StaffRole) -> Bool { !role.seesResidentContact }
}

/// What a member of staff can reach: their properties, and their departments unless one of their
/// roles sees whole properties. Queries take it, so an id outside it is not found.
public struct AccessScope: Sendable, Equatable {
    public var properties: [String]
    /// nil: every department's work at those properties.
    public var departments: [Department]?

    public init(properties: [String], departments: [Department]?) {
        self.properties = properties
        self.departments = departments
    }

    public func covers(property: String) -> Bool { properties.contains(property) }
}

/// A signed-in member of staff, as a session or token resolves them.
public struct StaffIdentity: Sendable, Codable, Equatable {
    public var id: UUID
    public var login: String
    public var name: String
    public var roles: [StaffRole]
    public var departments: [Department]
    public var properties: [String]

    public init(id: UUID, login: String, name: String, roles: [StaffRole], departments: [Department], properties: [String]) {
        self.id = id
        self.login = login
        self.name = name
        self.roles = roles
        self.departments = departments
        self.properties = properties
    }

    /// The role this person acts in for `permission`, if any of theirs holds it: one that sees
    /// residents' contacts first, so a person with two roles is shown what the stronger allows.
    public func acting(_ permission: Permission) -> StaffRole? {
        let holders = AccessPolicy.roles(permission)
        let mine = roles.filter(holders.contains)
        return mine.first(where: \.seesResidentContact) ?? mine.first
    }

    public var scope: AccessScope {
        let bound = roles.allSatisfy(AccessPolicy.departmentBound.contains)
        return AccessScope(properties: properties, departments: bound ? departments : nil)
    }

    public var needsSecondFactor: Bool { roles.contains(where: AccessPolicy.needsSecondFactor) }
}

/// Staff logins: 2–40 of a–z, 0–9, `.`, `_`, `-`, starting with a letter or digit.
public enum StaffLogin {
    public static func isValid(_ login: String) -> Bool {
        let bytes = Array(login.utf8)
        func alnum(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        guard (2...40).contains(bytes.count), alnum(bytes[0]) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}

extension TicketAction {
    /// The permission a step on a ticket needs.
    public var permission: Permission {
        switch self {
        case .close, .reopen, .cancel: .ticketsDesk
        default: .ticketsWork
        }
    }
}

extension WorkOrderAction {
    /// The permission a step on a work order needs.
    public var permission: Permission { self == .reassign ? .workOrdersReassign : .workOrdersWork }
}
