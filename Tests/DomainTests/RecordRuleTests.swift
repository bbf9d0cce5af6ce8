import Foundation
import Testing
@testable import Domain

@Suite("Records: who signs a handover, who may borrow a key, when a lock change is done")
struct RecordRuleTests {
    let now = Date(timeIntervalSince1970: 1_796_154_000)
    let a = UUID(), b = UUID()

    @Test func theOutgoingShiftSignsFirstAnotherPersonSecondAndThenNobody() {
        #expect(HandoverSigning.next(outgoing: nil, incoming: nil, signer: a) == .success(.outgoing))
        #expect(HandoverSigning.next(outgoing: a, incoming: nil, signer: a) == .failure(.samePerson))
        #expect(HandoverSigning.next(outgoing: a, incoming: nil, signer: b) == .success(.incoming))
        #expect(HandoverSigning.next(outgoing: a, incoming: b, signer: UUID()) == .failure(.complete))
        #expect(HandoverSigning.next(outgoing: a, incoming: b, signer: a) == .failure(.complete))
    }

    @Test func aHandoverNeedsItsShiftAndRefusesAControlCharacterInAnItem() throws {
        let missing = HandoverForm(property: "p", department: nil, shift: nil, items: nil, notes: nil).validate()
        guard case .failure(let f) = missing else { Issue.record("accepted without a shift"); return }
        #expect(f.problems.map(\.field) == ["shift"])
        let nul = HandoverForm(property: "p", department: "engineering", shift: "夜班", items: [HandoverItem(text: "a\u{0}b")], notes: nil).validate()
        guard case .failure(let g) = nul else { Issue.record("a NUL was accepted"); return }
        #expect(g.problems.map(\.field) == ["items[0].text"] && g.problems[0].code == .invalidFormat)
        let ok = try HandoverForm(property: "p", department: "engineering", shift: " 夜班 ", items: [HandoverItem(text: " 水泵房巡检 ")], notes: nil).validate().get()
        #expect(ok.department == .engineering && ok.shift == "夜班" && ok.items == [HandoverItem(text: "水泵房巡检")])
        let unknown = HandoverForm(property: "p", department: "kitchen", shift: "x", items: nil, notes: nil).validate()
        guard case .failure(let h) = unknown else { Issue.record("an unknown department was accepted"); return }
        #expect(h.problems.map(\.code) == [.unknownValue])
    }

    func loan(_ relation: String, reference: String? = nil, with owner: String? = nil, at: Date? = nil,
              due: Date? = nil) -> Result<KeyLoanForm.Loan, ValidationFailure> {
        var form = try! JSONDecoder().decode(KeyLoanForm.self, from: Data("{}".utf8))
        form.keyID = a
        form.ticketID = b
        form.borrower = "陈先生"
        form.relation = relation
        form.reason = "锁在门外"
        form.authorisationRef = reference
        form.phoneConfirmedWith = owner
        form.phoneConfirmedAt = at
        form.dueBackAt = due ?? now.addingTimeInterval(3600)
        return form.validate(now: now)
    }

    @Test func anOwnerBorrowsWithoutAuthorisationButATenantNeedsTheWrittenOneAndTheCall() throws {
        #expect(try loan("owner").get().authorisationRef == nil)
        #expect(try loan("staff").get().relation == .staff)
        for attempt in [loan("tenant"), loan("tenant", reference: "授权书-1"), loan("agent", with: "业主 赵敏", at: now)] {
            guard case .failure(let f) = attempt else { Issue.record("a non-owner borrowed without authorisation"); continue }
            #expect(f.problems.count == 1 && f.problems[0].code == .ownerAuthorisationRequired, "\(f)")
        }
        let tenant = try loan("tenant", reference: "授权书-1", with: "业主 赵敏", at: now.addingTimeInterval(-600)).get()
        #expect(tenant.authorisationRef == "授权书-1" && tenant.phoneConfirmedWith == "业主 赵敏")
        // An owner's loan keeps no authorisation fields, even if sent.
        #expect(try loan("owner", reference: "x", with: "y", at: now).get().phoneConfirmedAt == nil)
    }

    @Test func aKeyIsDueBackInTheFutureWithinThirtyDaysAndAPhoneCallIsRecent() {
        for (attempt, field) in [(loan("owner", due: now), "due_back_at"), (loan("owner", due: now.addingTimeInterval(31 * 86_400)), "due_back_at"),
                                 (loan("tenant", reference: "r", with: "o", at: now.addingTimeInterval(-2 * 86_400)), "phone_confirmed_at"),
                                 (loan("cousin"), "relation")] {
            guard case .failure(let f) = attempt else { Issue.record("\(field) accepted"); continue }
            #expect(f.problems.map(\.field) == [field], "\(f)")
        }
    }

    @Test func aLockChangeWaitsForTheCheckAndEachOfTheThreeDepartments() {
        #expect(LockChange.missing(checked: true, present: [.customerService, .concierge, .engineering]) == nil)
        let one = LockChange.missing(checked: true, present: [.customerService, .concierge])
        #expect(one?.contains("engineering") == true && one?.contains("concierge") == false)
        #expect(LockChange.missing(checked: false, present: [.customerService, .concierge, .engineering])?.contains("ID check") == true)
        #expect(LockChange.missing(checked: true, present: [.customerService, .concierge, .engineering, .security]) == nil)
    }

    @Test func aLockChangeCheckKeepsOnlyTheLastFourCharactersAndANonOwnerNeedsTheOwnersConsent() throws {
        func form(_ last4: String, owner: Bool, consent: String? = nil, at: Date? = nil) -> Result<LockChangeForm.Check, ValidationFailure> {
            var f = try! JSONDecoder().decode(LockChangeForm.self, from: Data("{}".utf8))
            (f.applicant, f.idDocument, f.idLast4, f.applicantIsOwner, f.consentOwner, f.consentAt) = ("陈先生", "resident_id_card", last4, owner, consent, at)
            return f.validate(now: now)
        }
        #expect(try form("123X", owner: true).get().idLast4 == "123X")
        for bad in ["12345", "12 4", "一二三四"] {
            guard case .failure = form(bad, owner: true) else { Issue.record("\(bad) accepted as the last four"); continue }
        }
        guard case .failure(let f) = form("1234", owner: false) else { Issue.record("no consent accepted"); return }
        #expect(Set(f.problems.compactMap(\.field)) == ["consent_owner", "consent_at"])
        #expect(try form("1234", owner: false, consent: "业主 赵敏", at: now).get().consent?.owner == "业主 赵敏")
    }

    @Test func theDailyCountExpectsTheCopiesLessThoseOutAndAKeyLeftOutIsNone() {
        let k1 = UUID(), k2 = UUID()
        let lines = KeyCount.lines(keys: [(k1, "3-2-1202", 1, 1), (k2, "5-1-301", 2, 0)], counted: [k1: 0])
        #expect(lines.map(\.expected) == [0, 2] && lines.map(\.counted) == [0, 0] && lines.map(\.differs) == [false, true])
        #expect(KeyCount.discrepancyText(lines, day: "2026-12-03").contains("5-1-301"))
        #expect(!KeyCount.discrepancyText(lines, day: "2026-12-03").contains("3-2-1202"))
    }

    @Test func aSurveysPeriodAndShareFollowF5AndItsQuarterIsShanghais() throws {
        #expect(SurveyKind.quarterly.validPeriod("2026-Q4") && !SurveyKind.quarterly.validPeriod("2026-Q5") && !SurveyKind.quarterly.validPeriod("2026-11"))
        #expect(SurveyKind.annual.validPeriod("2026") && !SurveyKind.annual.validPeriod("1999") && !SurveyKind.annual.validPeriod("20a6"))
        #expect(SurveyKind.firstRound.validPeriod("first") && !SurveyKind.firstRound.validPeriod("2026"))
        #expect(SurveyKind.sampleSize(households: 11, share: 20) == 3 && SurveyKind.sampleSize(households: 10, share: 20) == 2
                && SurveyKind.sampleSize(households: 10, share: 90) == 9)
        // 16:30 UTC on 31 December 2026 is already 1 January 2027 in Shanghai.
        let newYear = Date(timeIntervalSince1970: 1_798_734_600)
        #expect(SurveyKind.quarterly.period(of: newYear, in: TimeZone(identifier: "Asia/Shanghai")!) == "2027-Q1")
        #expect(SurveyKind.quarterly.period(of: newYear, in: TimeZone(identifier: "UTC")!) == "2026-Q4")
        for (kind, share) in [("quarterly", 19), ("annual", 30), ("first_round", 80)] {
            let form = try JSONDecoder().decode(SurveyForm.self, from: Data(#"{"property":"p","kind":"\#(kind)","share":\#(share)}"#.utf8))
            guard case .failure(let f) = form.validate() else { Issue.record("\(kind) at \(share)% accepted"); continue }
            #expect(f.problems.map(\.field) == ["share"])
        }
    }

    @Test func anAnsweredCallHasASatisfactionFromOneToFiveAndOtherOutcomesNone() throws {
        func answer(_ json: String) throws -> Result<SurveyAnswerForm.Answer, ValidationFailure> {
            try JSONDecoder().decode(SurveyAnswerForm.self, from: Data(json.utf8)).validate()
        }
        #expect(try answer(#"{"outcome":"answered","satisfaction":4}"#).get().satisfaction == 4)
        for bad in [#"{"outcome":"answered"}"#, #"{"outcome":"answered","satisfaction":6}"#, #"{"outcome":"refused","satisfaction":3}"#, #"{"outcome":"maybe"}"#] {
            guard case .failure = try answer(bad) else { Issue.record("\(bad) accepted"); continue }
        }
    }
}
