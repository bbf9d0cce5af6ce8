import Foundation

// The office's money rules (STANDARDS.md B1–B8), pure. The billing service stores and moves
// money by them; the escalation service times the steps (``MoneyClocks``).

/// How a payment was made. WeChat Pay and Alipay are recorded by their transaction reference;
/// PropDesk talks to no payment gateway.
public enum PaymentMethod: String, CaseIterable, Codable, Sendable {
    case cash, card
    case wechatPay = "wechat_pay"
    case alipay

    /// The ledger account the money arrives in.
    public var account: LedgerAccount { self == .cash ? .cash : .bank }
    /// Card, WeChat Pay and Alipay payments name their transaction.
    public var needsReference: Bool { self != .cash }
}

/// The ledger's accounts (double entry: every entry's postings sum to zero; debits positive).
public enum LedgerAccount: String, CaseIterable, Codable, Sendable {
    /// What residents owe (party: the unit, or the ticket for paid services).
    case receivable = "resident_receivable"
    case cash
    case bank
    case revenuePaidService = "revenue:paid_service"
    case revenueManagementFee = "revenue:management_fee"
    case revenueLateFee = "revenue:late_fee"
    case revenueForfeitedDeposit = "revenue:forfeited_deposit"
    /// Deposits taken for loaned items, owed back on return (a liability: credit balance).
    case depositsHeld = "deposits_held"
    /// Contractors' quality deposits held by the office (party: the contractor). B5.
    case contractorQualityDeposit = "contractor_quality_deposit"
    case repairExpense = "repair_expense"
    /// Approved repair costs owed to whoever did the work.
    case repairPayable = "repair_payable"
}

/// One line of a journal entry.
public struct Posting: Sendable, Equatable, Codable {
    public var account: LedgerAccount
    public var party: String?
    /// Debit positive, credit negative.
    public var amount: Money

    public init(_ account: LedgerAccount, _ party: String? = nil, _ amount: Money) {
        self.account = account
        self.party = party
        self.amount = amount
    }
}

/// A balanced journal entry: it cannot be made unless its postings sum to zero.
public struct JournalEntry: Sendable, Equatable {
    public let postings: [Posting]

    public init?(_ postings: [Posting]) {
        guard !postings.isEmpty, postings.reduce(Int64(0), { $0 + $1.amount.fen }) == 0 else { return nil }
        self.postings = postings
    }

    /// Debit `debit`, credit `credit`, the same amount.
    public static func transfer(_ amount: Money, debit: LedgerAccount, _ debitParty: String? = nil,
                                credit: LedgerAccount, _ creditParty: String? = nil) -> JournalEntry {
        JournalEntry([Posting(debit, debitParty, amount), Posting(credit, creditParty, -amount)])!
    }

    /// The same entry backwards (a void or a refund).
    public func reversed(scale fraction: (Money) -> Money = { $0 }) -> JournalEntry? {
        JournalEntry(postings.map { Posting($0.account, $0.party, -fraction($0.amount)) })
    }
}

// MARK: Repair-cost approvals (B4)

/// B4's limits, per property (table `billing_settings.approval`): up to `managerUpTo` the
/// customer-service manager approves; up to `viceGMUpTo` the chief engineer reviews and the vice
/// GM approves; above, the GM. The cost audit is customer service's up to `customerServiceAuditUpTo`,
/// the audit department's above. Each bound belongs to the lower band ("≤ ¥1,000").
public struct ApprovalLimits: Codable, Sendable, Equatable {
    public var managerUpTo: Money
    public var viceGMUpTo: Money
    public var customerServiceAuditUpTo: Money

    public static let standard = ApprovalLimits(managerUpTo: .yuan(1_000), viceGMUpTo: .yuan(10_000), customerServiceAuditUpTo: .yuan(20_000))

    public init(managerUpTo: Money, viceGMUpTo: Money, customerServiceAuditUpTo: Money) {
        self.managerUpTo = managerUpTo
        self.viceGMUpTo = viceGMUpTo
        self.customerServiceAuditUpTo = customerServiceAuditUpTo
    }

    enum CodingKeys: String, CodingKey {
        case managerUpTo = "manager_up_to_fen"
        case viceGMUpTo = "vice_gm_up_to_fen"
        case customerServiceAuditUpTo = "customer_service_audit_up_to_fen"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func fen(_ key: CodingKeys, _ fallback: Money) throws -> Money { try c.decodeIfPresent(Int64.self, forKey: key).map(Money.init(fen:)) ?? fallback }
        managerUpTo = try fen(.managerUpTo, Self.standard.managerUpTo)
        viceGMUpTo = try fen(.viceGMUpTo, Self.standard.viceGMUpTo)
        customerServiceAuditUpTo = try fen(.customerServiceAuditUpTo, Self.standard.customerServiceAuditUpTo)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(managerUpTo.fen, forKey: .managerUpTo)
        try c.encode(viceGMUpTo.fen, forKey: .viceGMUpTo)
        try c.encode(customerServiceAuditUpTo.fen, forKey: .customerServiceAuditUpTo)
    }
}

/// What one approver does with a cost.
public enum ApprovalAction: String, CaseIterable, Codable, Sendable {
    case review, approve, audit
}

/// One step of a cost's approval chain: who, doing what. Steps are taken in order.
public struct ApprovalStepPlan: Sendable, Equatable {
    public var action: ApprovalAction
    public var approver: Recipient

    public init(_ action: ApprovalAction, _ approver: Recipient) {
        self.action = action
        self.approver = approver
    }
}

public enum ApprovalChain {
    /// The steps a cost of `amount` takes (B4): approval by amount, then the cost audit.
    public static func steps(for amount: Money, limits: ApprovalLimits = .standard) -> [ApprovalStepPlan] {
        var steps: [ApprovalStepPlan]
        if amount <= limits.managerUpTo {
            steps = [ApprovalStepPlan(.approve, Recipient(.departmentManager, .customerService))]
        } else if amount <= limits.viceGMUpTo {
            steps = [ApprovalStepPlan(.review, Recipient(.chiefEngineer, .engineering)),
                     ApprovalStepPlan(.approve, Recipient(.viceGeneralManager, .management))]
        } else {
            steps = [ApprovalStepPlan(.approve, Recipient(.generalManager, .management))]
        }
        steps.append(amount <= limits.customerServiceAuditUpTo
                     ? ApprovalStepPlan(.audit, Recipient(.departmentManager, .customerService))
                     : ApprovalStepPlan(.audit, Recipient(.departmentManager, .audit)))
        return steps
    }
}

/// R5's repair classes as billing reads them: class A is the builder's warranty work, charged to
/// the contractor's quality deposit (B5).
public enum RepairClass: String, CaseIterable, Codable, Sendable {
    case a = "A", b = "B", c = "C"
}

// MARK: Property fees (B6, B8)

/// A unit's occupancy as the fee reads it: vacant and entrusted (custodial) homes pay
/// ``FeeRule/custodialPercent`` of the fee (B8), keyed to the status, not to an application.
public enum UnitStatus: String, CaseIterable, Codable, Sendable {
    case occupied, vacant, entrusted

    public var isCustodial: Bool { self != .occupied }
}

/// An area in hundredths of a square metre (`"89.50"` m² is 8950).
public struct Area: Hashable, Sendable, Codable {
    public let centi: Int64
    public init(centi: Int64) { self.centi = centi }

    /// `89.5`, `89.50`; more than 0 and at most 100,000 m².
    public static func parse(_ text: String) -> Area? {
        guard case .success(let m) = Money.parse(yuan: text), m.fen <= 10_000_000 else { return nil }
        return Area(centi: m.fen)
    }

    public var description: String { Money(fen: centi).description }
}

/// A property's management fee: a monthly rate per square metre, and the custodial share.
public struct FeeRule: Sendable, Equatable {
    public var ratePerSquareMetre: Money
    public var custodialPercent: Int

    public static let standardCustodialPercent = 70

    public init(ratePerSquareMetre: Money, custodialPercent: Int = FeeRule.standardCustodialPercent) {
        self.ratePerSquareMetre = ratePerSquareMetre
        self.custodialPercent = custodialPercent
    }

    /// The share of the fee a unit in `status` pays.
    public func percent(for status: UnitStatus) -> Int { status.isCustodial ? custodialPercent : 100 }

    /// A month's fee: area × rate × share, rounded once, half up, to the fen.
    public func monthlyFee(area: Area, status: UnitStatus) -> Money {
        Money(fen: Money.divideRounded(area.centi * ratePerSquareMetre.fen * Int64(percent(for: status)), 10_000))
    }
}

/// A bill's period: a calendar month, `2026-12`.
public struct BillingPeriod: Hashable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let y = Int(parts[0]), let m = Int(parts[1]),
              CivilDate.plausibleYears.contains(y), (1...12).contains(m) else { return nil }
        year = y
        month = m
    }

    public var description: String { String(format: "%04d-%02d", year, month) }
    public var firstDay: CivilDate { CivilDate(year: year, month: month, day: 1)! }
}

/// Late fees (滞纳金), optional per property: `rate` in parts per ten thousand of what is still
/// owed, per day or per started month past the due date. Computed, never stored, until finance
/// posts it as a charge.
public struct LateFeeRule: Codable, Sendable, Equatable {
    public enum Per: String, Codable, Sendable { case day, month }
    public var per: Per
    /// Parts per ten thousand (万分之): 5 is 0.05% a day.
    public var rate: Int
    /// Days after the due date before any accrues.
    public var graceDays: Int

    public init(per: Per, rate: Int, graceDays: Int = 0) {
        self.per = per
        self.rate = rate
        self.graceDays = graceDays
    }

    enum CodingKeys: String, CodingKey {
        case per, rate
        case graceDays = "grace_days"
    }

    /// The late fee on `owed` after `daysLate` days past the due date.
    public func accrued(on owed: Money, daysLate: Int) -> Money {
        let days = daysLate - graceDays
        guard days > 0, owed.fen > 0 else { return .zero }
        let periods = per == .day ? days : (days + 29) / 30
        return Money(fen: Money.divideRounded(owed.fen * Int64(rate) * Int64(periods), 10_000))
    }
}

/// The dunning ladder (B6), in order: a reminder by phone or SMS; a formal demand letter by
/// express 3 months after it; a visit; then the legal hand-over. `…Due` stages mean the clock for
/// the next step has fallen due and a person must take it.
public enum DunningStage: String, CaseIterable, Codable, Sendable {
    case none
    case reminded
    case letterDue = "letter_due"
    case letterSent = "letter_sent"
    case visitDue = "visit_due"
    case visited
    case legal

    /// The steps a person records, with their evidence.
    public static let recorded: [DunningStage] = [.reminded, .letterSent, .visited, .legal]

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Whether recording `next` moves the ladder on from here (never backwards, never twice).
    public func canRecord(_ next: DunningStage) -> Bool { Self.recorded.contains(next) && next.rank > rank }
}

// MARK: Money clocks

/// A deadline on money, timed by the escalation service like a ticket's clocks: it starts on a
/// `billing.*` event, stops on others for the same subject, and each step falls due on the
/// property's calendar. Rows of table `money_deadlines`.
public struct MoneyClockRule: Codable, Sendable, Equatable {
    public var id: String
    public var standard: String
    public var title: String
    /// `<entity>.<event>` of the `billing.*` event that starts it, optionally `:<stage>` for a
    /// dunning step (`dunning.stepped:reminded`).
    public var starts: String
    /// Events for the same subject that stop it (met).
    public var stops: [String]
    public var steps: [MoneyClockStep]

    public init(id: String, standard: String, title: String, starts: String, stops: [String], steps: [MoneyClockStep]) {
        self.id = id
        self.standard = standard
        self.title = title
        self.starts = starts
        self.stops = stops
        self.steps = steps
    }

    /// Whether an event (`approval.requested`, with its dunning stage if any) starts this clock.
    public func isStarted(by event: String, stage: String?) -> Bool {
        let parts = starts.split(separator: ":", maxSplits: 1).map(String.init)
        return parts[0] == event && (parts.count == 1 || parts[1] == stage)
    }
}

public struct MoneyClockStep: Codable, Sendable, Equatable {
    public var due: MoneyDue
    public var tell: [Recipient]
    /// Also tell the people the starting event names (`recipients`: the approver, the head of the
    /// department whose price is disputed).
    public var tellNamed: Bool

    public init(_ due: MoneyDue, tell: [Recipient], tellNamed: Bool = false) {
        self.due = due
        self.tell = tell
        self.tellNamed = tellNamed
    }

    enum CodingKeys: String, CodingKey {
        case due, tell
        case tellNamed = "tell_named"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        due = try c.decode(MoneyDue.self, forKey: .due)
        tell = try c.decode([Recipient].self, forKey: .tell)
        tellNamed = try c.decodeIfPresent(Bool.self, forKey: .tellNamed) ?? false
    }
}

/// When a money clock's step falls due, from the clock's start.
public enum MoneyDue: Codable, Sendable, Equatable {
    /// Wall-clock seconds (0: at once).
    case seconds(Int)
    /// The back office's close on the n-th working day after the start's day.
    case workingDays(Int)
    /// n calendar days after the start's day, moved to the next working day, at the back
    /// office's opening.
    case days(Int)
    /// The same day n months later (the month's last day if shorter), moved to the next working
    /// day, at the back office's opening: "3 months after the reminder".
    case months(Int)

    enum CodingKeys: String, CodingKey {
        case seconds, days, months
        case workingDays = "working_days"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int? {
            guard let v = try c.decodeIfPresent(Int.self, forKey: key) else { return nil }
            guard v >= 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be 0 or more") }
            return v
        }
        if let s = try count(.seconds) { self = .seconds(s) } else if let n = try count(.workingDays) { self = .workingDays(n) }
        else if let n = try count(.days) { self = .days(n) } else if let n = try count(.months) { self = .months(n) }
        else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a due time needs seconds, working_days, days or months")) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .seconds(let n): try c.encode(n, forKey: .seconds)
        case .workingDays(let n): try c.encode(n, forKey: .workingDays)
        case .days(let n): try c.encode(n, forKey: .days)
        case .months(let n): try c.encode(n, forKey: .months)
        }
    }

    /// The due instant for a clock started at `start` on `calendar`.
    public func instant(from start: Date, calendar: WorkCalendar) -> Date {
        func opening(_ day: CivilDate) -> Date {
            let d = calendar.workingDay(onOrAfter: day)
            return calendar.span(.backOffice, on: d)?.open ?? calendar.instant(d, TimeOfDay(seconds: 9 * 3_600))
        }
        switch self {
        case .seconds(let n): return start.addingTimeInterval(Double(n))
        case .workingDays(let n): return calendar.closeOfWorkingDay(n, after: start, .backOffice)
        case .days(let n): return opening(calendar.day(of: start).adding(days: n))
        case .months(let n): return opening(calendar.day(of: start).adding(months: n))
        }
    }
}

extension CivilDate {
    /// The same day `months` later; the last day of that month when it is shorter (31 Jan + 1 month is 28 or 29 Feb).
    public func adding(months: Int) -> CivilDate {
        let c = components
        let total = c.year * 12 + (c.month - 1) + months
        let year = total / 12, month = total % 12 + 1
        return CivilDate(year: year, month: month, day: min(c.day, Self.daysIn(month: month, year: year)))!
    }
}

/// The standards' money clocks: the default rows (a property's rows in `money_clock_rules` with the
/// same id replace them).
public enum MoneyClocks {
    /// B3: a disputed price goes to the head of the department that quoted it at once, and to the
    /// GM if it is not settled within a working day.
    public static let dispute = "B3-dispute"
    /// B4: an approval step waiting a working day reminds its approver; two, the GM hears.
    public static let approvalWait = "B4-wait"
    /// B6: a month's bills unpaid the day after their due date (the next working day on the
    /// property's calendar): each open bill's resident is reminded by SMS. One clock per bill run;
    /// the ladder after it is one clock per bill.
    public static let overdue = "B6-overdue"
    public static let letter = "B6-letter"
    public static let visit = "B6-visit"
    public static let legal = "B6-legal"
    /// B7: an item loaned against a deposit is due back within a week; if it has not come back
    /// `forfeit` later, the deposit is forfeited by rule.
    public static let itemReturn = "B7-return"

    static let financeManager = Recipient(.departmentManager, .finance)
    static let gm = Recipient(.generalManager, .management)

    public static let rules: [MoneyClockRule] = [
        MoneyClockRule(id: dispute, standard: "B3", title: "Disputed price escalated to the department head",
                       starts: "dispute.opened", stops: ["dispute.resolved"],
                       steps: [MoneyClockStep(.seconds(0), tell: [], tellNamed: true), MoneyClockStep(.workingDays(1), tell: [gm])]),
        MoneyClockRule(id: approvalWait, standard: "B4", title: "Repair-cost approval waiting",
                       starts: "approval.requested", stops: ["approval.decided"],
                       steps: [MoneyClockStep(.workingDays(1), tell: [], tellNamed: true), MoneyClockStep(.workingDays(2), tell: [gm])]),
        MoneyClockRule(id: overdue, standard: "B6", title: "Fee overdue: remind the resident by phone or SMS",
                       starts: "bill_run.issued", stops: [],
                       steps: [MoneyClockStep(.days(1), tell: [financeManager])]),
        MoneyClockRule(id: letter, standard: "B6", title: "Still unpaid 3 months after the reminder: send the formal demand letter by express",
                       starts: "dunning.stepped:reminded", stops: ["bill.paid", "dunning.stepped"],
                       steps: [MoneyClockStep(.months(3), tell: [financeManager])]),
        MoneyClockRule(id: visit, standard: "B6", title: "Demand letter unanswered: visit the resident",
                       starts: "dunning.stepped:letter_sent", stops: ["bill.paid", "dunning.stepped"],
                       steps: [MoneyClockStep(.days(30), tell: [financeManager, Recipient(.supervisor, .customerService)])]),
        MoneyClockRule(id: legal, standard: "B6", title: "Still unpaid after the visit: hand over for legal action",
                       starts: "dunning.stepped:visited", stops: ["bill.paid", "dunning.stepped"],
                       steps: [MoneyClockStep(.days(30), tell: [financeManager, gm])]),
        MoneyClockRule(id: itemReturn, standard: "B7", title: "Loaned item due back within a week",
                       starts: "deposit.taken", stops: ["deposit.refunded", "deposit.forfeited"],
                       steps: [MoneyClockStep(.days(7), tell: [Recipient(.supervisor, .concierge)]),
                               MoneyClockStep(.days(37), tell: [Recipient(.supervisor, .concierge), financeManager])]),
    ]
}
