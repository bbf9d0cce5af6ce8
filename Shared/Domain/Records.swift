import Foundation

// The office's records (P2, T2, T9) as forms and rules. Pure: intake checks a request with these
// and writes what they return; the tables' constraints say the same again.

// MARK: - P2 shift handover

/// Who may sign a handover next, and why not.
public enum HandoverSigning {
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case complete
        /// The outgoing shift's signer tried to sign again, as the incoming shift.
        case samePerson

        public var description: String {
            switch self {
            case .complete: "both shifts have signed this handover; amend it with a new entry"
            case .samePerson: "the incoming shift signs with another login: one person cannot sign a handover twice"
            }
        }
    }

    public enum Side: String, Sendable, Equatable { case outgoing, incoming }

    /// Which signature `signer` gives, given who has signed so far. The first signature is the
    /// outgoing shift's (the handover is theirs to list), the second the incoming shift's.
    public static func next(outgoing: UUID?, incoming: UUID?, signer: UUID) -> Result<Side, Refusal> {
        if incoming != nil { return .failure(.complete) }
        guard let outgoing else { return .success(.outgoing) }
        return outgoing == signer ? .failure(.samePerson) : .success(.incoming)
    }
}

/// One pending item the outgoing shift hands over.
public struct HandoverItem: Codable, Sendable, Equatable {
    public var text: String
    /// The ticket it is about, if any (pre-filled items carry it).
    public var ticketID: UUID?
    public var number: String?

    public init(text: String, ticketID: UUID? = nil, number: String? = nil) {
        self.text = text
        self.ticketID = ticketID
        self.number = number
    }

    enum CodingKeys: String, CodingKey {
        case text, number
        case ticketID = "ticket_id"
    }
}

public struct HandoverForm: Decodable, Sendable {
    public var property: String?
    public var department: String?
    public var shift: String?
    public var items: [HandoverItem]?
    public var notes: String?

    public static let maxItems = 200

    public struct Handover: Sendable, Equatable {
        public var property: String
        public var department: Department
        public var shift: String
        public var items: [HandoverItem]
        public var notes: String?
    }

    /// `required`: a new handover needs its property; an edit keeps the one it has.
    public func validate(required: Bool = true) -> Result<Handover, ValidationFailure> {
        var check = FieldCheck()
        let property = check.text(property, "property", required: required, max: 40)
        let department = self.department == nil ? .customerService : check.choice(self.department, "department", required: true, Department.self)
        let shift = check.text(shift, "shift", required: true, max: 40, what: "which shift hands over, e.g. 早班 or day")
        var cleaned: [HandoverItem] = []
        if let items {
            if items.count > Self.maxItems {
                check.add(.init(field: "items", code: .tooLong, message: "a handover lists at most \(Self.maxItems) items"))
            }
            for (i, item) in items.prefix(Self.maxItems).enumerated() {
                guard let text = check.text(item.text, "items[\(i)].text", required: true, max: 500) else { continue }
                let number = check.text(item.number, "items[\(i)].number", required: false, max: 40)
                cleaned.append(HandoverItem(text: text, ticketID: item.ticketID, number: number))
            }
        }
        let notes = check.text(notes, "notes", required: false, max: 2000)
        guard check.problems.isEmpty, let department, let shift else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Handover(property: property ?? "", department: department, shift: shift, items: cleaned, notes: notes))
    }
}

// MARK: - T2 lock change

/// The identity documents the desk checks (T2: 有效证件).
public enum IDDocument: String, CaseIterable, Codable, Sendable {
    case residentIDCard = "resident_id_card"
    case passport
    case residencePermit = "residence_permit"
    case hkMacauTaiwanPermit = "hk_macau_taiwan_permit"
}

/// The departments that must each have been on site before a lock change is resolved (T2).
public enum LockChange {
    public static let presentDepartments: [Department] = [.customerService, .concierge, .engineering]

    /// Why a lock-change ticket may not be resolved yet, or nil if it may.
    public static func missing(checked: Bool, present: Set<Department>) -> String? {
        var wanting: [String] = []
        if !checked { wanting.append("the applicant's ID check and the owner's consent (POST /tickets/{id}/lock-change-check)") }
        let absent = presentDepartments.filter { !present.contains($0) }
        if !absent.isEmpty {
            wanting.append("\(absent.map(\.rawValue).joined(separator: ", ")) on site (each department marks its work order on site)")
        }
        return wanting.isEmpty ? nil : "a lock change is resolved only after " + wanting.joined(separator: " and ")
    }
}

public struct LockChangeForm: Decodable, Sendable {
    public var applicant: String?
    public var idDocument: String?
    /// The last four characters of the document's number: enough to say it was checked, not
    /// enough to copy it.
    public var idLast4: String?
    public var applicantIsOwner: Bool?
    /// Not the owner: the owner consented on the phone.
    public var consentOwner: String?
    public var consentAt: Date?

    enum CodingKeys: String, CodingKey {
        case applicant
        case idDocument = "id_document"
        case idLast4 = "id_last4"
        case applicantIsOwner = "applicant_is_owner"
        case consentOwner = "consent_owner"
        case consentAt = "consent_at"
    }

    public struct Check: Sendable, Equatable {
        public var applicant: String
        public var idDocument: IDDocument
        public var idLast4: String
        public var applicantIsOwner: Bool
        public var consent: (owner: String, at: Date)?

        public static func == (a: Check, b: Check) -> Bool {
            a.applicant == b.applicant && a.idDocument == b.idDocument && a.idLast4 == b.idLast4 && a.applicantIsOwner == b.applicantIsOwner
                && a.consent?.owner == b.consent?.owner && a.consent?.at == b.consent?.at
        }
    }

    /// `now`: a consent call is in the last 24 hours, not in the future.
    public func validate(now: Date) -> Result<Check, ValidationFailure> {
        var check = FieldCheck()
        let applicant = check.text(applicant, "applicant", required: true, max: 80, what: "who asks for the lock change")
        let document = check.choice(idDocument, "id_document", required: true, IDDocument.self, what: "the ID the desk checked")
        let last4 = check.text(idLast4, "id_last4", required: true, max: 4, what: "the last four characters of the ID's number")
        if let last4, last4.count != 4 || !last4.unicodeScalars.allSatisfy({ $0.isASCII && CharacterSet.alphanumerics.contains($0) }) {
            check.add(.init(field: "id_last4", code: .invalidFormat, message: "id_last4 is the last four letters or digits of the ID's number"))
        }
        if applicantIsOwner == nil {
            check.add(.init(field: "applicant_is_owner", code: .required, message: "applicant_is_owner is required: true, or false with the owner's consent"))
        }
        var consent: (String, Date)?
        if applicantIsOwner == false {
            let owner = check.text(consentOwner, "consent_owner", required: true, max: 80, what: "the owner who consented by phone")
            if let at = consentAt {
                if at > now.addingTimeInterval(60) || at < now.addingTimeInterval(-86_400) {
                    check.add(.init(field: "consent_at", code: .invalidFormat, message: "consent_at is when the owner was called: within the last 24 hours"))
                } else if let owner {
                    consent = (owner, at)
                }
            } else {
                check.add(.init(field: "consent_at", code: .required, message: "consent_at (when the owner consented by phone) is required"))
            }
        }
        guard check.problems.isEmpty, let applicant, let document, let last4, let applicantIsOwner else {
            return .failure(ValidationFailure(problems: check.problems))
        }
        return .success(Check(applicant: applicant, idDocument: document, idLast4: last4, applicantIsOwner: applicantIsOwner, consent: consent))
    }
}

// MARK: - T9 key register

/// Who borrows a key. Anyone but the owner (or the office's own staff) needs the owner's written
/// authorisation and a phone call to the owner (T9).
public enum BorrowerRelation: String, CaseIterable, Codable, Sendable {
    case owner, tenant, family, agent, contractor, staff

    public var needsOwnerAuthorisation: Bool { self != .owner && self != .staff }
}

public struct KeyForm: Decodable, Sendable {
    public var property: String?
    public var label: String?
    public var building: String?
    public var unit: String?
    public var special: Bool?
    public var copies: Int?

    public struct Key: Sendable, Equatable {
        public var property: String
        public var label: String
        public var building: String?
        public var unit: String?
        public var special: Bool
        public var copies: Int
    }

    public func validate() -> Result<Key, ValidationFailure> {
        var check = FieldCheck()
        let property = check.text(property, "property", required: true, max: 40)
        let label = check.text(label, "label", required: true, max: 80, what: "the key's tag, e.g. 3-2-1202 or 配电房")
        let building = check.text(building, "building", required: false, max: 40)
        let unit = check.text(unit, "unit", required: false, max: 40)
        let copies = copies ?? 1
        if !(1...99).contains(copies) { check.add(.init(field: "copies", code: .invalidFormat, message: "copies is from 1 to 99")) }
        guard check.problems.isEmpty, let property, let label else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Key(property: property, label: label, building: building, unit: unit, special: special ?? false, copies: copies))
    }
}

public struct KeyLoanForm: Decodable, Sendable {
    public var keyID: UUID?
    /// The key_loan ticket the desk filed for the request (its clock is the due time).
    public var ticketID: UUID?
    public var borrower: String?
    public var relation: String?
    public var reason: String?
    public var authorisationRef: String?
    /// The owner, as the office reached them on the phone.
    public var phoneConfirmedWith: String?
    public var phoneConfirmedAt: Date?
    public var dueBackAt: Date?
    public var copies: Int?

    enum CodingKeys: String, CodingKey {
        case borrower, relation, reason, copies
        case keyID = "key_id"
        case ticketID = "ticket_id"
        case authorisationRef = "authorisation_ref"
        case phoneConfirmedWith = "phone_confirmed_with"
        case phoneConfirmedAt = "phone_confirmed_at"
        case dueBackAt = "due_back_at"
    }

    /// The longest a key is lent for.
    public static let maxDays = 30

    public struct Loan: Sendable, Equatable {
        public var keyID: UUID
        public var ticketID: UUID
        public var borrower: String
        public var relation: BorrowerRelation
        public var reason: String
        public var authorisationRef: String?
        public var phoneConfirmedWith: String?
        public var phoneConfirmedAt: Date?
        public var dueBackAt: Date
        public var copies: Int
    }

    /// One problem with code ``ErrorCode/ownerAuthorisationRequired`` when a non-owner comes
    /// without the owner's written authorisation or the phone confirmation (or both).
    public func validate(now: Date) -> Result<Loan, ValidationFailure> {
        var check = FieldCheck()
        if keyID == nil { check.add(.init(field: "key_id", code: .required, message: "key_id is required")) }
        if ticketID == nil {
            check.add(.init(field: "ticket_id", code: .required, message: "ticket_id (the key_loan ticket filed for this request) is required"))
        }
        let borrower = check.text(borrower, "borrower", required: true, max: 80, what: "who takes the key")
        let relation = check.choice(self.relation, "relation", required: true, BorrowerRelation.self, what: "the borrower to the unit")
        let reason = check.text(reason, "reason", required: true, max: 500, what: "why the key is needed")
        let reference = check.text(authorisationRef, "authorisation_ref", required: false, max: 80)
        let confirmedWith = check.text(phoneConfirmedWith, "phone_confirmed_with", required: false, max: 80)
        if let relation, relation.needsOwnerAuthorisation {
            var wanting: [String] = []
            if reference == nil, check.problems.allSatisfy({ $0.field != "authorisation_ref" }) {
                wanting.append("the owner's written authorisation (authorisation_ref: its reference)")
            }
            if confirmedWith == nil || phoneConfirmedAt == nil {
                wanting.append("the owner's confirmation by phone (phone_confirmed_with: the owner reached, phone_confirmed_at)")
            } else if let at = phoneConfirmedAt, at > now.addingTimeInterval(60) || at < now.addingTimeInterval(-86_400) {
                check.add(.init(field: "phone_confirmed_at", code: .invalidFormat, message: "phone_confirmed_at is within the last 24 hours"))
            }
            if !wanting.isEmpty {
                check.add(.init(field: reference == nil ? "authorisation_ref" : "phone_confirmed_at", code: .ownerAuthorisationRequired,
                                message: "a \(relation.rawValue) borrows a key only with " + wanting.joined(separator: " and ")))
            }
        }
        if let due = dueBackAt {
            if due <= now {
                check.add(.init(field: "due_back_at", code: .invalidFormat, message: "due_back_at must be in the future"))
            } else if due > now.addingTimeInterval(Double(Self.maxDays) * 86_400) {
                check.add(.init(field: "due_back_at", code: .invalidFormat, message: "a key is lent for at most \(Self.maxDays) days"))
            }
        } else {
            check.add(.init(field: "due_back_at", code: .required, message: "due_back_at (when the key comes back) is required"))
        }
        let copies = copies ?? 1
        if !(1...99).contains(copies) { check.add(.init(field: "copies", code: .invalidFormat, message: "copies is from 1 to 99")) }
        guard check.problems.isEmpty, let keyID, let ticketID, let borrower, let relation, let reason, let dueBackAt else {
            return .failure(ValidationFailure(problems: check.problems))
        }
        let owner = !relation.needsOwnerAuthorisation
        return .success(Loan(keyID: keyID, ticketID: ticketID, borrower: borrower, relation: relation, reason: reason,
                             authorisationRef: owner ? nil : reference, phoneConfirmedWith: owner ? nil : confirmedWith,
                             phoneConfirmedAt: owner ? nil : phoneConfirmedAt, dueBackAt: dueBackAt, copies: copies))
    }
}

/// The daily count: each key's copies on the board against the register's.
public enum KeyCount {
    public struct Line: Codable, Sendable, Equatable {
        public var keyID: UUID
        public var label: String
        public var expected: Int
        public var counted: Int

        public init(keyID: UUID, label: String, expected: Int, counted: Int) {
            self.keyID = keyID
            self.label = label
            self.expected = expected
            self.counted = counted
        }

        public var differs: Bool { expected != counted }

        enum CodingKeys: String, CodingKey {
            case label, expected, counted
            case keyID = "key_id"
        }
    }

    /// Expected on the board: the copies held, less those out on loan. A key the count leaves
    /// out was counted as none.
    public static func lines(keys: [(id: UUID, label: String, copies: Int, out: Int)], counted: [UUID: Int]) -> [Line] {
        keys.map { Line(keyID: $0.id, label: $0.label, expected: max(0, $0.copies - $0.out), counted: counted[$0.id] ?? 0) }
    }

    /// The text of the ticket to security a count that does not add up files.
    public static func discrepancyText(_ lines: [Line], day: String) -> String {
        "钥匙盘点不符 key count discrepancy \(day): " + lines.filter(\.differs)
            .map { "\($0.label) 应有 expected \($0.expected), 实有 counted \($0.counted)" }.joined(separator: "; ")
    }
}

// MARK: - R5 repair classes and the customer's signature

/// A signature drawn in the console: strokes of points in a 1000 × 400 box. Only numbers are
/// stored, and the server draws them (``svg``): nothing the browser sent is ever served as markup.
public struct DrawnSignature: Codable, Sendable, Equatable {
    public static let width = 1000, height = 400
    public static let maxStrokes = 60, maxPoints = 4000

    public var strokes: [[[Int]]]

    public init(strokes: [[[Int]]]) { self.strokes = strokes }

    /// Why these strokes are not a signature, or nil.
    public var problem: String? {
        if strokes.isEmpty || strokes.count > Self.maxStrokes { return "a drawn signature has 1 to \(Self.maxStrokes) strokes" }
        var total = 0
        for stroke in strokes {
            guard !stroke.isEmpty else { return "every stroke has at least one point" }
            for point in stroke {
                guard point.count == 2, (0...Self.width).contains(point[0]), (0...Self.height).contains(point[1]) else {
                    return "every point is [x, y] with x from 0 to \(Self.width) and y from 0 to \(Self.height)"
                }
            }
            total += stroke.count
        }
        return total > Self.maxPoints ? "a drawn signature has at most \(Self.maxPoints) points" : nil
    }

    /// The strokes as an SVG image (a dot for a one-point stroke).
    public var svg: String {
        let paths = strokes.map { stroke -> String in
            let first = stroke[0]
            let rest = stroke.count == 1 ? "l0.1 0" : stroke.dropFirst().map { "L\($0[0]) \($0[1])" }.joined(separator: " ")
            return "<path d=\"M\(first[0]) \(first[1]) \(rest)\"/>"
        }.joined()
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Self.width) \(Self.height)\" fill=\"none\" stroke=\"#111\" "
            + "stroke-width=\"6\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\(paths)</svg>"
    }
}

/// R5: the completed repair's class, its inspection, and the customer's signature — a name typed
/// with the time, or drawn.
public struct SignOffForm: Decodable, Sendable {
    public var repairClass: String?
    public var contractor: String?
    public var inspectionNote: String?
    public var signer: String?
    public var drawn: DrawnSignature?

    enum CodingKeys: String, CodingKey {
        case contractor, signer, drawn
        case repairClass = "repair_class"
        case inspectionNote = "inspection_note"
    }

    public struct SignOff: Sendable, Equatable {
        public var repairClass: RepairClass
        public var contractor: String?
        public var inspectionNote: String?
        public var signer: String
        public var drawn: DrawnSignature?
    }

    public func validate() -> Result<SignOff, ValidationFailure> {
        var check = FieldCheck()
        var repairClass = check.choice(self.repairClass, "repair_class", required: true, RepairClass.self,
                                       what: "A: under warranty, the builder pays; B: the company pays")
        if repairClass == .c {
            check.add(.init(field: "repair_class", code: .unknownValue, message: "a repair is signed off as class A (under warranty) or B (the company pays)"))
            repairClass = nil
        }
        let contractor = check.text(contractor, "contractor", required: repairClass == .a, max: 80,
                                    what: "whose warranty pays for class A work")
        let note = check.text(inspectionNote, "inspection_note", required: false, max: 500)
        let signer = check.text(signer, "signer", required: true, max: 80, what: "the customer who signs, by name")
        if let problem = drawn?.problem { check.add(.init(field: "drawn", code: .invalidFormat, message: problem)) }
        guard check.problems.isEmpty, let repairClass, let signer else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(SignOff(repairClass: repairClass, contractor: repairClass == .a ? contractor : nil, inspectionNote: note,
                                signer: signer, drawn: drawn))
    }
}

// MARK: - F5 satisfaction surveys

/// F5's samples: quarterly to at least 20% of households, an annual 10–25% sample, a new estate's
/// first round to at least 90%; no household is asked twice within a year.
public enum SurveyKind: String, CaseIterable, Codable, Sendable {
    case quarterly, annual
    case firstRound = "first_round"

    /// The share of the register's households a sample may take, in percent.
    public var shares: ClosedRange<Int> {
        switch self {
        case .quarterly: 20...100
        case .annual: 10...25
        case .firstRound: 90...100
        }
    }

    public var defaultShare: Int { shares.lowerBound }

    /// A period's name: `2026-Q4` for a quarter, `2026` for a year, `first` for a first round.
    public func validPeriod(_ text: String) -> Bool {
        let u = Array(text.utf8)
        func year(_ s: ArraySlice<UInt8>) -> Bool {
            s.count == 4 && s.allSatisfy { (48...57).contains($0) } && (2000...2100).contains(Int(String(decoding: s, as: UTF8.self)) ?? 0)
        }
        switch self {
        case .quarterly: return u.count == 7 && year(u[0..<4]) && u[4] == 0x2D && u[5] == 0x51 && (49...52).contains(u[6])
        case .annual: return year(u[0...])
        case .firstRound: return text == "first"
        }
    }

    /// The period `date` falls in, in the property's days.
    public func period(of date: Date, in zone: TimeZone) -> String {
        let day = CivilDate.of(date, in: zone).components
        switch self {
        case .quarterly: return "\(day.year)-Q\((day.month - 1) / 3 + 1)"
        case .annual: return "\(day.year)"
        case .firstRound: return "first"
        }
    }

    /// Households to draw: `share` percent of the register, rounded up.
    public static func sampleSize(households: Int, share: Int) -> Int { (households * share + 99) / 100 }
}

/// How long a household rests after it was drawn: no household is asked twice within a year.
public let surveyRestDays = 365

public struct SurveyForm: Decodable, Sendable {
    public var property: String?
    public var kind: String?
    public var period: String?
    public var share: Int?

    public struct Survey: Sendable, Equatable {
        public var property: String
        public var kind: SurveyKind
        /// nil: the period `now` is in.
        public var period: String?
        public var share: Int
    }

    public func validate() -> Result<Survey, ValidationFailure> {
        var check = FieldCheck()
        let property = check.text(property, "property", required: true, max: 40)
        let kind = check.choice(self.kind, "kind", required: true, SurveyKind.self)
        let period = check.text(period, "period", required: false, max: 10)
        if let kind, let period, !kind.validPeriod(period) {
            check.add(.init(field: "period", code: .invalidFormat,
                            message: "a \(kind.rawValue) survey's period is " + (kind == .quarterly ? "like 2026-Q4" : kind == .annual ? "a year like 2026" : "first")))
        }
        let share = share ?? kind?.defaultShare ?? 0
        if let kind, !kind.shares.contains(share) {
            check.add(.init(field: "share", code: .invalidFormat,
                            message: "a \(kind.rawValue) sample takes \(kind.shares.lowerBound)–\(kind.shares.upperBound)% of the households (F5)"))
        }
        guard check.problems.isEmpty, let property, let kind else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Survey(property: property, kind: kind, period: period, share: share))
    }
}

/// What a survey call found.
public struct SurveyAnswerForm: Decodable, Sendable {
    public enum Outcome: String, CaseIterable, Codable, Sendable {
        case answered, refused, unreachable
    }

    public var outcome: String?
    /// 1 (very dissatisfied) to 5 (very satisfied), when answered.
    public var satisfaction: Int?
    public var comments: String?

    public struct Answer: Sendable, Equatable {
        public var outcome: Outcome
        public var satisfaction: Int?
        public var comments: String?
    }

    public func validate() -> Result<Answer, ValidationFailure> {
        var check = FieldCheck()
        let outcome = check.choice(self.outcome, "outcome", required: true, Outcome.self)
        if outcome == .answered {
            if let s = satisfaction, !(1...5).contains(s) {
                check.add(.init(field: "satisfaction", code: .invalidFormat, message: "satisfaction is from 1 (very dissatisfied) to 5 (very satisfied)"))
            } else if satisfaction == nil {
                check.add(.init(field: "satisfaction", code: .required, message: "satisfaction (1–5) is required when the household answered"))
            }
        } else if satisfaction != nil {
            check.add(.init(field: "satisfaction", code: .notAllowed, message: "satisfaction is given only when the household answered"))
        }
        let comments = check.text(comments, "comments", required: false, max: 2000)
        guard check.problems.isEmpty, let outcome else { return .failure(ValidationFailure(problems: check.problems)) }
        return .success(Answer(outcome: outcome, satisfaction: satisfaction, comments: comments))
    }
}
