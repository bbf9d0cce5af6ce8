import Foundation
import Testing
@testable import Domain

@Suite("Filing a ticket: the form's checks")
struct TicketFormTests {
    static let complaint = TicketForm(property: "sunrise-garden", kind: "complaint", channel: "phone", building: "3号楼",
                                      unit: "2单元1202", callerName: "王丽", callerPhone: "13812345678",
                                      content: "楼上装修噪音", category: "Noise", takenBy: "Li Mei")

    /// 2026-12-01 12:00 UTC.
    static let now = Date(timeIntervalSince1970: 1_796_126_400)

    func problems(_ form: TicketForm) -> [Problem] {
        if case .failure(let f) = form.validate(now: Self.now) { return f.problems }
        return []
    }

    @Test func aCompleteComplaintIsAcceptedWithItsCategoryLowerCasedAndMinorSeverity() throws {
        let ticket = try Self.complaint.validate(now: Self.now).get()
        #expect(ticket.kind == .complaint)
        #expect(ticket.category == "noise")
        #expect(ticket.severity == .minor)
        #expect(ticket.channel == .phone)
        #expect(ticket.takenBy == "Li Mei")
    }

    @Test func anUnknownKindIsNamedWithTheKindsThereAre() {
        var form = Self.complaint
        form.kind = "haunting"
        let p = problems(form)
        #expect(p.map(\.code) == [.unknownValue])
        #expect(p.first?.field == "kind")
        #expect(p.first?.message.contains("complaint, repair, emergency") == true)
    }

    @Test func aComplaintWithoutAPhoneToCallBackIsRefused_C6() {
        var form = Self.complaint
        form.callerPhone = "  "
        #expect(problems(form) == [Problem(field: "caller_phone", code: .required, message: "caller_phone is required")])
        var inquiry = form
        inquiry.kind = "inquiry"
        #expect(problems(inquiry).isEmpty)
    }

    @Test func oversizedContentIsRefusedWithItsLength() {
        var form = Self.complaint
        form.content = String(repeating: "噪", count: TicketForm.maxContent + 1)
        #expect(problems(form).map(\.code) == [.tooLong])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let p = problems(TicketForm(kind: "complaint", callerPhone: "abc"))
        #expect(Set(p.compactMap(\.field)) == ["property", "content", "caller_phone", "taken_by"])
    }

    @Test func anEmergencyNeedsItsTypeAndOnlyAnEmergencyMayHaveOne() {
        var form = Self.complaint
        form.kind = "emergency"
        #expect(problems(form).map(\.field) == ["emergency_type"])
        form.emergencyType = "stopped_lift"
        #expect(problems(form).isEmpty)
        form.kind = "repair"
        #expect(problems(form).map(\.code) == [.notAllowed])
    }

    @Test func severityIsForComplaintsOnly() {
        var form = Self.complaint
        form.kind = "repair"
        form.severity = "major"
        #expect(problems(form).map(\.field) == ["severity"])
    }

    @Test(arguments: ["Sunrise Garden", "-x", "a.b", "sunrise_garden"])
    func aPropertyCodeIsLowerCaseLettersDigitsAndHyphens(code: String) {
        var form = Self.complaint
        form.property = code
        #expect(problems(form).map(\.code) == [.invalidFormat])
    }

    @Test func aTicketNumberIsReadableOnThePhone_I1() {
        #expect(TicketNumber.format(prefix: "SG", day: "261123", sequence: 42) == "SG-261123-0042")
        #expect(TicketNumber.format(prefix: "HT", day: "270101", sequence: 12345) == "HT-270101-12345")
    }

    @Test func aStepNeedsItsActorAndTheWordsItRecords() throws {
        #expect(throws: ValidationFailure.self) { try StepForm(actor: "Wang").validate(wordField: "outcome").get() }
        #expect(throws: ValidationFailure.self) { try StepForm(outcome: "fixed").validate(wordField: "outcome").get() }
        #expect(try StepForm(actor: "Wang", outcome: " fixed ").validate(wordField: "outcome").get().text == "fixed")
        #expect(throws: ValidationFailure.self) {
            try StepForm(actor: "Wang", reason: "wrong dept", to: "plumbers").validate(wordField: "reason", needsDestination: true).get()
        }
        #expect(try StepForm(actor: "Wang", reason: "x", to: "triage").validate(wordField: "reason", needsDestination: true).get().to == .triage)
    }

    @Test(arguments: ["content", "caller_name", "building", "category", "taken_by"])
    func aNULInAnyTextIsRefusedNotSilentlyCut(field: String) {
        var form = Self.complaint
        let poisoned = "3号楼\u{0}DROP"
        switch field {
        case "content": form.content = poisoned
        case "caller_name": form.callerName = poisoned
        case "building": form.building = poisoned
        case "category": form.category = poisoned
        default: form.takenBy = poisoned
        }
        #expect(problems(form) == [Problem(field: field, code: .invalidFormat,
                                           message: "\(field) contains a control character (U+0000); it is not stored")])
    }

    @Test func aStepsWordsWithANULAreRefusedByField() {
        for (field, form) in [("actor", StepForm(actor: "Wang\u{0}", reason: "x")), ("reason", StepForm(actor: "Wang", reason: "a\u{0}b")),
                              ("note", StepForm(actor: "Wang", note: "\u{0}"))] {
            guard case .failure(let failure) = form.validate(wordField: field == "actor" ? "reason" : field) else {
                Issue.record("\(field) with a NUL was accepted")
                continue
            }
            #expect(failure.problems.map(\.field) == [field])
            #expect(failure.problems.map(\.code) == [.invalidFormat])
        }
        #expect((try? FollowUpForm(actor: "Li", reached: true, satisfied: false, note: "脏\u{0}").validate().get()) == nil)
        #expect((try? ExtensionForm(actor: "Li", until: Self.now.addingTimeInterval(60), reason: "\u{0}").validate(now: Self.now).get()) == nil)
    }

    @Test func aRequestedTimeMoreThanAYearAwayIsATypingErrorNotADeadline() {
        var form = Self.complaint
        form.requestedAt = Timestamp.parse("9999-12-31T23:59:59Z")
        #expect(problems(form).map(\.field) == ["requested_at"])
        form.requestedAt = Timestamp.parse("0001-01-01T00:00:00Z")
        #expect(problems(form).map(\.field) == ["requested_at"])
        form.requestedAt = Self.now.addingTimeInterval(30 * 86_400)
        #expect(problems(form).isEmpty)
    }

    @Test func impossibleDatesAndTimesAreRefusedNotNormalisedIntoAnotherDay() {
        #expect(Timestamp.parse("2025-13-45T99:99:99Z") == nil)
        #expect(Timestamp.parse("2026-02-30T10:00:00+08:00") == nil)
        #expect(Timestamp.parse("2026-02-28T24:00:00Z") == nil)
        #expect(Timestamp.parse("2026-02-28T10:00:00") == nil, "a time without a zone means nothing")
        #expect(Timestamp.parse("2026-02-28T10:00:00+15:00") == nil)
        #expect(Timestamp.parse("2024-02-29T10:00:00+08:00") == Date(timeIntervalSince1970: 1_709_172_000))
        #expect(Timestamp.parse("2026-11-23T01:30:00.250Z") == Date(timeIntervalSince1970: 1_795_397_400.25))
        #expect(Timestamp.parse("2026-11-23T09:30:00.250000+08:00") == Date(timeIntervalSince1970: 1_795_397_400.25))
    }
}
