import Foundation
import Testing
@testable import Domain

@Suite("Filing a ticket: the form's checks")
struct TicketFormTests {
    static let complaint = TicketForm(property: "sunrise-garden", kind: "complaint", channel: "phone", building: "3号楼",
                                      unit: "2单元1202", callerName: "王丽", callerPhone: "13812345678",
                                      content: "楼上装修噪音", category: "Noise", takenBy: "Li Mei")

    func problems(_ form: TicketForm) -> [Problem] {
        if case .failure(let f) = form.validate() { return f.problems }
        return []
    }

    @Test func aCompleteComplaintIsAcceptedWithItsCategoryLowerCasedAndMinorSeverity() throws {
        let ticket = try Self.complaint.validate().get()
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
        #expect(p.map(\.code) == ["unknown_value"])
        #expect(p.first?.field == "kind")
        #expect(p.first?.message.contains("complaint, repair, emergency") == true)
    }

    @Test func aComplaintWithoutAPhoneToCallBackIsRefused_C6() {
        var form = Self.complaint
        form.callerPhone = "  "
        #expect(problems(form) == [Problem(field: "caller_phone", code: "required", message: "caller_phone is required")])
        var inquiry = form
        inquiry.kind = "inquiry"
        #expect(problems(inquiry).isEmpty)
    }

    @Test func oversizedContentIsRefusedWithItsLength() {
        var form = Self.complaint
        form.content = String(repeating: "噪", count: TicketForm.maxContent + 1)
        #expect(problems(form).map(\.code) == ["too_long"])
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
        #expect(problems(form).map(\.code) == ["not_allowed"])
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
        #expect(problems(form).map(\.code) == ["invalid_format"])
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
}
