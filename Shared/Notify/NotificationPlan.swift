import Domain
import Foundation

/// The message templates (`Templates/<name>.<language>.mustache`).
public enum TemplateName: String, Sendable, CaseIterable {
    // To staff.
    case newWorkOrder = "new-work-order"
    case emergency
    case escalation
    case followUpDue = "follow-up-due"
    case approvalNeeded = "approval-needed"
    case moneyOverdue = "money-overdue"
    case weeklyReport = "weekly-report"
    // To the resident who called.
    case received
    case onTheWay = "on-the-way"
    case onSite = "on-site"
    case resolved
    case delayed
    case followUp = "follow-up"
    case paymentReceipt = "payment-receipt"
    case feeReminder = "fee-reminder"

    public var audience: Audience.Kind {
        switch self {
        case .newWorkOrder, .emergency, .escalation, .followUpDue, .approvalNeeded, .moneyOverdue, .weeklyReport: .staff
        case .received, .onTheWay, .onSite, .resolved, .delayed, .followUp, .paymentReceipt, .feeReminder: .resident
        }
    }
}

public enum Audience: Sendable, Equatable {
    /// The people on duty in these roles (``DutyRoster``).
    case staff([Recipient])
    /// The ticket's caller, if the residents register has their consent.
    case resident

    public enum Kind: String, Sendable { case staff, resident }
}

/// One message an event calls for.
public struct Intent: Sendable, Equatable {
    public var audience: Audience
    public var template: TemplateName
    /// Emergencies and escalations: no quiet hours, ahead of the rate limit.
    public var urgent: Bool

    public init(_ audience: Audience, _ template: TemplateName, urgent: Bool = false) {
        self.audience = audience
        self.template = template
        self.urgent = urgent
    }
}

/// What the planner reads from an event's payload.
public struct EventFacts: Sendable, Equatable {
    public var kind: TicketKind?
    /// The deadline events' recipients (`tell`).
    public var tell: [Recipient]
    /// The deadline's step and rule (follow-up events: only the first call asks the resident).
    public var step: Int?
    public var ruleID: String?
    /// Billing's events: who must act (an approval step's approver), what the event is about (a
    /// money clock's firing names its subject), and a dunning step's stage and channel.
    public var recipients: [Recipient]
    public var subject: String?
    public var stage: String?
    public var channel: String?

    public init(kind: TicketKind? = nil, tell: [Recipient] = [], step: Int? = nil, ruleID: String? = nil, recipients: [Recipient] = [],
                subject: String? = nil, stage: String? = nil, channel: String? = nil) {
        self.kind = kind
        self.tell = tell
        self.step = step
        self.ruleID = ruleID
        self.recipients = recipients
        self.subject = subject
        self.stage = stage
        self.channel = channel
    }
}

/// Which messages an event calls for. Pure: the roster and the register decide who, later.
///
/// - `ticket.<kind>.created`: the resident gets the ticket number; an emergency also goes to the
///   control room (R2).
/// - `workorder.<department>.assigned`: the department's on-duty technician; for an emergency as
///   an emergency message. `workorder.triage.assigned`: the customer-service supervisor.
/// - `workorder.<queue>.accepted`: the resident hears someone is on the way; `ticket.*.on_site`:
///   on site; `ticket.*.resolved`: the result the same day (C6); `ticket.*.extended`: the new
///   expected time (R6).
/// - `escalation.<standard>.breached`: everyone the step names (its `tell`).
/// - `followup.<kind>.due`: the step's `tell`; on a clock's first step the resident too.
/// - `escalation.<b3|b4|b6|b7>.breached` (a money clock, its payload names a `subject`): the
///   step's `tell`, with the money-overdue message.
/// - `billing.approval.requested`: the step's approver, as its `recipients` name them (B4: the
///   customer-service manager, the chief engineer, the vice GM, the GM or the audit department).
/// - `billing.payment.received`: the payer, when the payment is for a ticket's paid work.
/// - `billing.dunning.stepped` at `reminded` by SMS: the unit's resident gets the fee reminder.
/// - `report.<report>.ready`: the managers its `tell` names get the Monday report's figures and
///   the link to its file.
public enum NotificationPlan {
    public static func intents(for eventType: String, facts: EventFacts) -> [Intent] {
        let parts = eventType.split(separator: ".").map(String.init)
        guard parts.count >= 3 else { return [] }
        let emergency = facts.kind == .emergency
        switch (parts[0], parts[2]) {
        case ("ticket", "created"):
            return [Intent(.resident, .received, urgent: emergency)]
                + (emergency ? [Intent(.staff([Recipient(.controlRoom, .security)]), .emergency, urgent: true)] : [])
        case ("workorder", "assigned"):
            guard let department = Department(rawValue: parts[1]) else {
                return [Intent(.staff([Recipient(.supervisor, .customerService)]), .newWorkOrder, urgent: emergency)]
            }
            return [Intent(.staff([Recipient(.technician, department)]), emergency ? .emergency : .newWorkOrder, urgent: emergency)]
        case ("workorder", "accepted"):
            return [Intent(.resident, .onTheWay, urgent: emergency)]
        case ("ticket", "on_site"):
            return [Intent(.resident, .onSite, urgent: emergency)]
        case ("ticket", "resolved"):
            return [Intent(.resident, .resolved, urgent: emergency)]
        case ("ticket", "extended"):
            return [Intent(.resident, .delayed, urgent: emergency)]
        case ("escalation", "breached"):
            return facts.tell.isEmpty ? [] : [Intent(.staff(facts.tell), facts.subject == nil ? .escalation : .moneyOverdue, urgent: facts.subject == nil)]
        case ("followup", "due"):
            let staff = facts.tell.isEmpty ? [] : [Intent(.staff(facts.tell), .followUpDue)]
            let firstCall = facts.step == 1 && facts.ruleID != StandardClocks.followUpRetryID
            return staff + (firstCall ? [Intent(.resident, .followUp)] : [])
        case ("billing", "requested") where parts[1] == "approval":
            return facts.recipients.isEmpty ? [] : [Intent(.staff(facts.recipients), .approvalNeeded)]
        case ("billing", "stepped") where parts[1] == "dunning" && facts.stage == DunningStage.reminded.rawValue && facts.channel == "sms":
            return [Intent(.resident, .feeReminder)]
        case ("billing", "received") where parts[1] == "payment":
            return [Intent(.resident, .paymentReceipt)]
        case ("report", "ready"):
            return facts.tell.isEmpty ? [] : [Intent(.staff(facts.tell), .weeklyReport)]
        default:
            return []
        }
    }

    /// The routing-key patterns the notification service binds, for the events above.
    public static let bindings = [
        "ticket.*.created.#", "ticket.*.on_site.#", "ticket.*.resolved.#", "ticket.*.extended.#",
        "workorder.*.assigned.#", "workorder.*.accepted.#",
        "escalation.*.breached.#", "followup.*.due.#",
        "billing.approval.requested.#", "billing.payment.received.#", "billing.dunning.stepped.#",
        "report.*.ready.#",
    ]
}
