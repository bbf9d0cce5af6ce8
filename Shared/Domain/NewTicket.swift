import Foundation

/// Every code a request can be refused with, and the two a failure on our side has: the API's
/// refusals are typed with it, so a code not listed here cannot be sent, and the contract test
/// holds this list and the OpenAPI document's together.
public enum ErrorCode: String, CaseIterable, Codable, Sendable {
    case validationFailed = "validation_failed"
    case required
    case unknownValue = "unknown_value"
    case notAllowed = "not_allowed"
    case tooLong = "too_long"
    case invalidFormat = "invalid_format"
    case invalidUtf8 = "invalid_utf8"
    case invalidJson = "invalid_json"
    case unknownProperty = "unknown_property"
    case idempotencyKeyReused = "idempotency_key_reused"
    case illegalTransition = "illegal_transition"
    case forbidden
    case notFound = "not_found"
    case bodyTooLarge = "body_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    /// No credentials, or a session or token that is unknown, expired, revoked or altered.
    case notSignedIn = "not_signed_in"
    case invalidCredentials = "invalid_credentials"
    /// The account's role needs a one-time code from the authenticator app.
    case secondFactorRequired = "second_factor_required"
    case tooManyAttempts = "too_many_attempts"
    /// A cookie-authenticated change without the session's `X-CSRF-Token`.
    case csrfTokenMissing = "csrf_token_missing"
    /// Reading this resident's file needs an approved request.
    case approvalRequired = "approval_required"
    /// Money (``Money``, ``AmountProblem``): not a decimal string of yuan or an integer of fen,
    /// below zero, zero where an amount is needed, over ``Money/maximum``, finer than a fen.
    case amountNotNumeric = "amount_not_numeric"
    case amountNegative = "amount_negative"
    case amountZero = "amount_zero"
    case amountTooLarge = "amount_too_large"
    case amountTooPrecise = "amount_too_precise"
    /// A payment or refund of more than is owed or was paid.
    case amountOverBalance = "amount_over_balance"
    /// Paid work (B1) done or charged before the resident accepted its price.
    case quoteNotAccepted = "quote_not_accepted"
    /// A gateway's delivery receipt without the shared key it was given (`?key=`).
    case receiptKeyInvalid = "receipt_key_invalid"
    /// T9: a key lent to someone other than the owner without the owner's written authorisation
    /// and phone confirmation.
    case ownerAuthorisationRequired = "owner_authorisation_required"
    /// T2: a lock change resolved before the ID check and the three departments' presence.
    case lockChangeIncomplete = "lock_change_incomplete"
    /// T9: a key-loan ticket resolved while its key is out or its loan awaits approval.
    case keyNotReturned = "key_not_returned"
    /// P2: a signed handover changed (it is amended by a new entry), or signed by one person twice.
    case recordSigned = "record_signed"
    case sameSigner = "same_signer"
    /// T9: every copy of the key is out.
    case keyUnavailable = "key_unavailable"
    /// F5: too few households left to draw (the rest were asked within the year, or consent to
    /// no contact).
    case sampleTooSmall = "sample_too_small"
    /// F5: residents are not called in their quiet hours.
    case quietHours = "quiet_hours"
    case databaseUnavailable = "database_unavailable"
    case internalError = "internal_error"
}

/// One thing wrong with a request, machine-readable (`code`, `field`) and human (`message`).
public struct Problem: Sendable, Equatable, Codable, CustomStringConvertible {
    public var field: String?
    public var code: ErrorCode
    public var message: String

    public init(field: String?, code: ErrorCode, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }

    public var description: String { field.map { "\($0): \(message)" } ?? message }
}

/// A ticket as the desk files it (I1): the fields of the paper form, as the API receives them.
/// Every field is optional here so that a missing or mistyped one is reported by name, all at once.
public struct TicketForm: Codable, Sendable, Equatable {
    public var property: String?
    public var kind: String?
    public var channel: String?
    public var building: String?
    public var unit: String?
    public var callerName: String?
    public var callerPhone: String?
    public var content: String?
    public var category: String?
    public var severity: String?
    public var emergencyType: String?
    public var requestedAt: Date?
    public var takenBy: String?

    enum CodingKeys: String, CodingKey {
        case property, kind, channel, building, unit, content, category, severity
        case callerName = "caller_name"
        case callerPhone = "caller_phone"
        case emergencyType = "emergency_type"
        case requestedAt = "requested_at"
        case takenBy = "taken_by"
    }

    public init(property: String? = nil, kind: String? = nil, channel: String? = nil, building: String? = nil,
                unit: String? = nil, callerName: String? = nil, callerPhone: String? = nil, content: String? = nil,
                category: String? = nil, severity: String? = nil, emergencyType: String? = nil,
                requestedAt: Date? = nil, takenBy: String? = nil) {
        self.property = property
        self.kind = kind
        self.channel = channel
        self.building = building
        self.unit = unit
        self.callerName = callerName
        self.callerPhone = callerPhone
        self.content = content
        self.category = category
        self.severity = severity
        self.emergencyType = emergencyType
        self.requestedAt = requestedAt
        self.takenBy = takenBy
    }

    /// Limits, in characters.
    public static let maxContent = 2000
    public static let maxShort = 64

    /// How far from now a requested time may be, either way: further is a typing error (year 9999
    /// would switch C5's clock off).
    public static let requestedWindow: TimeInterval = 366 * 86_400

    /// Checks every field; either a ticket ready to store or every problem found. `now` bounds
    /// `requested_at` (``requestedWindow`` either side).
    public func validate(now: Date) -> Result<NewTicket, ValidationFailure> {
        var check = FieldCheck()
        func text(_ value: String?, _ field: String, required: Bool, max: Int) -> String? {
            check.text(value, field, required: required, max: max)
        }
        func choice<E: RawRepresentable & CaseIterable>(_ value: String?, _ field: String, required: Bool, _ type: E.Type) -> E?
            where E.RawValue == String {
            check.choice(value, field, required: required, type)
        }

        let property = text(self.property, "property", required: true, max: 32)
        if let property, !NewTicket.isPropertyCode(property) {
            check.add(.init(field: "property", code: .invalidFormat, message: "property is a code like sunrise-garden (a–z, 0–9, -)"))
        }
        let kind = choice(kind, "kind", required: true, TicketKind.self)
        let channel = choice(channel ?? "phone", "channel", required: true, IntakeChannel.self)
        let severity = choice(severity, "severity", required: false, ComplaintSeverity.self)
        let emergencyType = choice(emergencyType, "emergency_type", required: kind == .emergency, EmergencyType.self)
        let content = text(content, "content", required: true, max: Self.maxContent)
        let category = text(category, "category", required: false, max: Self.maxShort)?.lowercased()
        let building = text(building, "building", required: false, max: 32)
        let unit = text(unit, "unit", required: false, max: 32)
        let callerName = text(callerName, "caller_name", required: false, max: Self.maxShort)
        // C6: a complainant is told the result the same day — so a complaint needs a number to call.
        let callerPhone = text(callerPhone, "caller_phone", required: kind == .complaint, max: 32)
        if let callerPhone, !NewTicket.isPhone(callerPhone) {
            check.add(.init(field: "caller_phone", code: .invalidFormat,
                            message: "caller_phone must be 5–20 digits, optionally with +, spaces or hyphens"))
        }
        let takenBy = text(takenBy, "taken_by", required: true, max: Self.maxShort)
        if severity != nil, kind != nil, kind != .complaint {
            check.add(.init(field: "severity", code: .notAllowed, message: "severity is for complaints only"))
        }
        if emergencyType != nil, kind != nil, kind != .emergency {
            check.add(.init(field: "emergency_type", code: .notAllowed, message: "emergency_type is for emergencies only"))
        }
        if let requestedAt, abs(requestedAt.timeIntervalSince(now)) > Self.requestedWindow {
            check.add(.init(field: "requested_at", code: .invalidFormat, message: "requested_at must be within a year of now"))
        }
        guard check.problems.isEmpty, let property, let kind, let channel, let content, let takenBy else {
            return .failure(ValidationFailure(problems: check.problems))
        }
        return .success(NewTicket(
            property: property, kind: kind, channel: channel, building: building, unit: unit, callerName: callerName,
            callerPhone: callerPhone, content: content, category: category,
            severity: kind == .complaint ? (severity ?? .minor) : nil, emergencyType: emergencyType,
            requestedAt: requestedAt, takenBy: takenBy))
    }
}

public struct ValidationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [Problem]
    public init(problems: [Problem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// A validated ticket, ready to store.
public struct NewTicket: Sendable, Equatable {
    public var property: String
    public var kind: TicketKind
    public var channel: IntakeChannel
    public var building: String?
    public var unit: String?
    public var callerName: String?
    public var callerPhone: String?
    public var content: String
    public var category: String?
    /// Complaints only; a complaint filed without one is `minor` (C5).
    public var severity: ComplaintSeverity?
    public var emergencyType: EmergencyType?
    public var requestedAt: Date?
    /// I2 首问负责制: the staff member who took the call owns it until it is closed.
    public var takenBy: String

    public static func isPropertyCode(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.first != "-"
            && s.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }
    }

    public static func isPhone(_ s: String) -> Bool {
        let digits = s.filter(\.isASCIIDigit).count
        return (5...20).contains(digits) && s.allSatisfy { $0.isASCIIDigit || $0 == "+" || $0 == " " || $0 == "-" }
            && !s.dropFirst().contains("+")
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// 统一编号 (I1): `SG-261123-0042` — the property's prefix, the day in the property's zone
/// (`YYMMDD`), the day's count. Short enough to read out on the phone.
public enum TicketNumber {
    public static func format(prefix: String, day: String, sequence: Int) -> String {
        let count = String(sequence)
        return prefix + "-" + day + "-" + String(repeating: "0", count: max(0, 4 - count.count)) + count
    }
}

/// The body of a ticket or work-order step: who does it and the words it needs — an outcome to
/// resolve, a reason to cancel, reopen, transfer or give work back, the text of a progress note.
public struct StepForm: Codable, Sendable, Equatable {
    public var actor: String?
    public var note: String?
    public var outcome: String?
    public var reason: String?
    /// Transfer only: the department (or `triage`) to hand the work to.
    public var to: String?
    /// Reassign only: the member of staff who takes the order over.
    public var assignee: String?

    public init(actor: String? = nil, note: String? = nil, outcome: String? = nil, reason: String? = nil, to: String? = nil,
                assignee: String? = nil) {
        self.actor = actor
        self.note = note
        self.outcome = outcome
        self.reason = reason
        self.to = to
        self.assignee = assignee
    }

    public struct Step: Sendable, Equatable {
        public var actor: String
        /// The outcome, reason or note the step records.
        public var text: String?
        public var to: WorkQueue?
        public var assignee: String?
    }

    /// `wordField` is the field this step needs (`outcome`, `reason`, `note`) or `nil`.
    public func validate(wordField: String?, needsDestination: Bool = false, needsAssignee: Bool = false) -> Result<Step, ValidationFailure> {
        var check = FieldCheck()
        let actor = check.text(actor, "actor", required: true, max: TicketForm.maxShort, what: "who is doing this")
        var text: String?
        if let wordField {
            let raw = switch wordField {
            case "outcome": outcome
            case "reason": reason
            default: note
            }
            text = check.text(raw, wordField, required: true, max: TicketForm.maxContent, what: "for this step")
        }
        var destination: WorkQueue?
        if needsDestination {
            if let to, let queue = WorkQueue(name: to) {
                destination = queue
            } else {
                check.add(.init(field: "to", code: to == nil ? .required : .unknownValue,
                                message: "to is the department to transfer to: one of \(WorkQueue.all.map(\.name).joined(separator: ", "))"))
            }
        }
        let newAssignee = needsAssignee
            ? check.text(assignee, "assignee", required: true, max: TicketForm.maxShort, what: "who takes the order over") : nil
        guard check.problems.isEmpty, let actor else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Step(actor: actor, text: text, to: destination, assignee: newAssignee))
    }
}

extension TicketAction {
    /// The body field this step needs: an outcome to resolve, a reason to cancel or reopen, the
    /// note's text.
    public var wordField: String? {
        switch self {
        case .resolve: "outcome"
        case .cancel, .reopen: "reason"
        case .note: "note"
        case .acknowledge, .onSite, .close: nil
        }
    }
}

extension WorkOrderAction {
    public var wordField: String? {
        switch self {
        case .resolve: "outcome"
        case .transfer, .reassign, .release, .cancel: "reason"
        case .note: "note"
        case .accept, .onSite: nil
        }
    }
}

/// The outcome of a follow-up call (回访, F1–F4): whether the resident was reached and, if so,
/// whether they are satisfied. Dissatisfied reopens the ticket (F4).
public struct FollowUpForm: Codable, Sendable, Equatable {
    public var actor: String?
    public var reached: Bool?
    public var satisfied: Bool?
    public var note: String?

    public init(actor: String? = nil, reached: Bool? = nil, satisfied: Bool? = nil, note: String? = nil) {
        self.actor = actor
        self.reached = reached
        self.satisfied = satisfied
        self.note = note
    }

    public struct Outcome: Sendable, Equatable {
        public var actor: String
        public var reached: Bool
        /// nil when not reached.
        public var satisfied: Bool?
        public var note: String?
    }

    public func validate() -> Result<Outcome, ValidationFailure> {
        var check = FieldCheck()
        let actor = check.text(actor, "actor", required: true, max: TicketForm.maxShort, what: "who made the call")
        if reached == nil { check.add(.init(field: "reached", code: .required, message: "reached (true or false) is required")) }
        if reached == true, satisfied == nil {
            check.add(.init(field: "satisfied", code: .required, message: "satisfied (true or false) is required when the resident was reached"))
        }
        if reached == false, satisfied != nil {
            check.add(.init(field: "satisfied", code: .invalidFormat, message: "satisfied is only given when the resident was reached"))
        }
        let unhappy = reached == true && satisfied == false
        let note = check.text(note, "note", required: unhappy, max: TicketForm.maxContent,
                              what: unhappy ? "what the resident is unhappy with; it goes back to the department" : nil)
        guard check.problems.isEmpty, let actor, let reached else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Outcome(actor: actor, reached: reached, satisfied: reached ? satisfied : nil, note: note))
    }
}

/// A later time agreed with the customer (R4: "longer only with the customer's agreement
/// recorded"). It moves the ticket's resolution clocks, and becomes its requested time.
public struct ExtensionForm: Codable, Sendable, Equatable {
    public var actor: String?
    public var until: Date?
    public var reason: String?

    public init(actor: String? = nil, until: Date? = nil, reason: String? = nil) {
        self.actor = actor
        self.until = until
        self.reason = reason
    }

    public struct Extension: Sendable, Equatable {
        public var actor: String
        public var until: Date
        public var reason: String
    }

    /// `now`: the instant `until` must be after (and within a year of).
    public func validate(now: Date) -> Result<Extension, ValidationFailure> {
        var check = FieldCheck()
        let actor = check.text(actor, "actor", required: true, max: TicketForm.maxShort, what: "who recorded the agreement")
        if let until {
            if until <= now {
                check.add(.init(field: "until", code: .invalidFormat, message: "until must be in the future"))
            } else if until > now.addingTimeInterval(366 * 86_400) {
                check.add(.init(field: "until", code: .invalidFormat, message: "until must be within a year"))
            }
        } else {
            check.add(.init(field: "until", code: .required, message: "until (the agreed date-time) is required"))
        }
        let reason = check.text(reason, "reason", required: true, max: TicketForm.maxContent, what: "what the customer agreed to")
        guard check.problems.isEmpty, let actor, let until, let reason else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Extension(actor: actor, until: until, reason: reason))
    }
}
