import Foundation
import Testing
@testable import Domain

@Suite("Service clocks (SLA policy)")
struct ServicePolicyTests {
    let rules = StandardClocks.rules

    func deadlines(_ ticket: ClockTicket, at time: String) -> [String: [Date]] { deadlines(.created, ticket, at: time) }

    func deadlines(_ event: ClockEvent, _ ticket: ClockTicket, at time: String) -> [String: [Date]] {
        Dictionary(grouping: DeadlinePlanner.deadlines(for: event, at: local(time), ticket: ticket, rules: rules, calendar: shanghai2025),
                   by: \.ruleID).mapValues { $0.sorted { $0.step < $1.step }.map(\.dueAt) }
    }

    @Test func everyDefaultRuleIsUsableAndEveryStandardWithAClockIsCovered() {
        #expect(rules.flatMap(\.problems) == [])
        #expect(Set(rules.map(\.id)).count == rules.count)
        let covered = Set(rules.map(\.standard))
        for standard in ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "R1", "R2", "R3", "R4", "R6", "I3", "I4", "T1", "T3", "T4",
                         "T5", "T6", "T7", "T8", "F1", "F2", "F3", "F4"] {
            #expect(covered.contains(standard), "\(standard) has no clock")
        }
    }

    @Test func aComplaintOnAMondayMorningRunsItsFiveAndTenMinuteLadders() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .minor), at: "2025-11-10 10:00")
        #expect(due["C1"] == [local("2025-11-10 10:05"), local("2025-11-10 10:15")])
        #expect(due["C2"] == [local("2025-11-10 10:10"), local("2025-11-10 10:30")])
        #expect(due["C3"] == nil)   // not major
        #expect(due["C4"] == [local("2025-11-10 17:00")])
        #expect(due["C5-minor"] == [local("2025-11-12 10:00")])
        #expect(due["C7"] == [local("2025-11-13 17:00")])
    }

    @Test func aMajorComplaintReachesTheGeneralManagerAtNightButTheDeskClocksWaitForMorning() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .major), at: "2025-11-10 22:30")
        #expect(due["C3"]?.first == local("2025-11-10 22:40"))
        #expect(due["C1"] == [local("2025-11-11 09:05"), local("2025-11-11 09:15")])
        // After the back office closed: the next morning meeting.
        #expect(due["C4"] == [local("2025-11-11 09:00")])
    }

    @Test func aComplaintAt0341KeepsItsLadderInOpeningHoursSoTheGeneralManagerHearsAfterTheSupervisor() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .minor), at: "2025-11-11 03:41")
        #expect(due["C1"] == [local("2025-11-11 09:05"), local("2025-11-11 09:15")])
        #expect(due["C2"] == [local("2025-11-11 09:10"), local("2025-11-11 09:30")])
    }

    @Test func aComplaintTwoMinutesBeforeTheDeskClosesCarriesTheRestOfItsMinutesToTheMorning() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .minor), at: "2025-11-10 20:58")
        #expect(due["C1"] == [local("2025-11-11 09:03"), local("2025-11-11 09:13")])
        #expect(due["C2"] == [local("2025-11-11 09:08"), local("2025-11-11 09:28")])
    }

    @Test func aFollowUpDueInTheNightMovesOnByTheTimeItOverranNotToTheFirstMinuteOfTheDay() {
        // Resolved Friday 18:00: 24 h later is Saturday 18:00, an hour after the desk's weekend close.
        let due = deadlines(.resolved, ClockTicket(kind: .complaint), at: "2025-11-07 18:00")
        #expect(due["F1"] == [local("2025-11-09 10:00")])
    }

    @Test func anImportantComplaintOnAFridayEveningReachesTheDepartmentHeadInTheFirstWorkingHour() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .important), at: "2025-11-07 20:00")
        #expect(due["C5-important-head"] == [local("2025-11-10 10:00")])
    }

    @Test func aMinorComplaintIsDueByTheCustomersRequestedTime() {
        let due = deadlines(ClockTicket(kind: .complaint, severity: .minor, requestedAt: local("2025-11-11 15:00")), at: "2025-11-10 10:00")
        #expect(due["C5-minor"] == [local("2025-11-11 15:00")])
    }

    @Test func anEmergencyOnNationalDayAt3amFiresItsOneMinuteStep() {
        let due = deadlines(ClockTicket(kind: .emergency, emergencyType: .liftEntrapment), at: "2025-10-03 03:00")
        #expect(due["R2"] == [local("2025-10-03 03:01"), local("2025-10-03 03:05"), local("2025-10-03 03:15")])
    }

    @Test func theCutOffRuleSplitsAt17() {
        let early = deadlines(ClockTicket(kind: .repair, category: "plumbing"), at: "2025-11-10 16:59")
        #expect(early["R3-before-17"] == [local("2025-11-11 09:00")])
        #expect(early["R3-after-17"] == nil)
        let late = deadlines(ClockTicket(kind: .repair, category: "plumbing"), at: "2025-11-10 17:00")
        #expect(late["R3-before-17"] == nil)
        #expect(late["R3-after-17"] == [local("2025-11-11 12:00"), local("2025-11-11 17:00")])
    }

    @Test func aRepairOnTheEveOfNationalDayIsSurveyedAfterTheHoliday() {
        let due = deadlines(ClockTicket(kind: .repair), at: "2025-09-30 15:00")
        #expect(due["R4-survey"] == [local("2025-10-09 17:00")])
        // 3 working days: 9 October, 10 October, the make-up Saturday 11 October.
        #expect(due["R4-repair"]?.first == local("2025-10-11 17:00"))
        // Sent to engineering within 15 min, in reception hours.
        #expect(due["R1"] == [local("2025-09-30 15:15")])
    }

    @Test func resolvingStartsTheFollowUpCalls() {
        let complaint = deadlines(.resolved, ClockTicket(kind: .complaint, severity: .minor), at: "2025-11-10 11:00")
        #expect(complaint["F1"] == [local("2025-11-11 11:00")])
        #expect(complaint["C6"] == [local("2025-11-10 21:00")])
        let leak = deadlines(.resolved, ClockTicket(kind: .repair, category: "water leak"), at: "2025-11-07 16:00")
        #expect(leak["F2-leak"] == [local("2025-11-10 16:00")])
        // F3 is the desk's call: the close of reception on the next working day.
        #expect(leak["F3"] == [local("2025-11-10 21:00")])
        #expect(leak["F2-safety"] == nil)
        // A follow-up due after reception closes waits for it to open.
        let evening = deadlines(.resolved, ClockTicket(kind: .complaint), at: "2025-11-10 22:00")
        #expect(evening["F1"] == [local("2025-11-12 09:00")])
    }

    @Test func progressMeetsEveryClockWaitingForLessAndNothingElse() {
        let onSite = Set(DeadlinePlanner.rulesMet(by: .onSite, rules: rules))
        #expect(onSite.isSuperset(of: ["C1", "C2", "C3", "R2", "T1", "R4-survey"]))
        #expect(!onSite.contains("C4") && !onSite.contains("R4-repair") && !onSite.contains("F1"))
        let assigned = Set(DeadlinePlanner.rulesMet(by: .assigned, rules: rules))
        #expect(assigned == ["R1", "F4"])
        #expect(ClockEvent(eventType: "ticket.complaint.on_site") == .onSite)
        #expect(ClockEvent(eventType: "workorder.engineering.assigned") == .assigned)
        #expect(ClockEvent(eventType: "workorder.engineering.accepted") == nil)
        #expect(ClockEvent(eventType: "ticket.complaint.noted") == nil)
    }

    @Test func rulesAreDataThatRoundTripsThroughJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let decoded = try JSONDecoder().decode([ClockRule].self, from: encoder.encode(rules))
        #expect(decoded == rules)
        let text = #"{"id":"X","standard":"C1","title":"t","purpose":"escalation","applies":{},"starts":"created","stops":"resolved","steps":[{"due":{"weeks":1},"tell":[]}]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ClockRule.self, from: Data(text.utf8)) }
    }

    @Test func aMissedFollowUpCallStartsAFreshRetryClockEveryTimeOtherClocksStartOncePerRound() throws {
        let text = #"{"id":"X","standard":"C1","title":"t","purpose":"escalation","applies":{},"starts":"created","stops":"resolved","steps":[{"due":{"seconds":60},"tell":[{"role":"supervisor"}]}]}"#
        #expect(try JSONDecoder().decode(ClockRule.self, from: Data(text.utf8)).repeats == false)
        let repeating = rules.filter(\.repeats).map(\.id)
        #expect(repeating == ["F-retry"])
        let missed = DeadlinePlanner.deadlines(for: .followUpMissed, at: local("2025-11-10 10:00"), ticket: ClockTicket(kind: .repair),
                                               rules: rules, calendar: shanghai2025)
        #expect(missed.map(\.step) == [1, 2] && missed.allSatisfy { $0.repeats && $0.ruleID == "F-retry" })
        let created = DeadlinePlanner.deadlines(for: .created, at: local("2025-11-10 10:00"), ticket: ClockTicket(kind: .repair),
                                                rules: rules, calendar: shanghai2025)
        #expect(!created.isEmpty && !created.contains(where: \.repeats))
    }

    @Test func aReopenedComplaintsWorkIsDueAgainFromTheReopeningButItsResponseClocksStayMet() throws {
        let reopened = local("2025-11-12 10:00")   // a Wednesday
        let minor = ClockTicket(kind: .complaint, severity: .minor)
        let again = DeadlinePlanner.deadlines(for: .reopened, at: reopened, ticket: minor, rules: rules, calendar: shanghai2025)
        let ids = Set(again.map(\.ruleID))
        #expect(ids == ["C4", "C5-minor", "C7", "F4"], "\(ids)")
        // Counted from the reopening, as for a new complaint filed then.
        let fresh = DeadlinePlanner.deadlines(for: .created, at: reopened, ticket: minor, rules: rules, calendar: shanghai2025)
        for d in again where d.ruleID != "F4" {
            #expect(fresh.contains { $0.ruleID == d.ruleID && $0.step == d.step && $0.dueAt == d.dueAt })
        }
        let repair = DeadlinePlanner.deadlines(for: .reopened, at: reopened, ticket: ClockTicket(kind: .repair), rules: rules,
                                               calendar: shanghai2025)
        #expect(Set(repair.map(\.ruleID)) == ["R3-before-17", "R4-repair", "F4"])
        let text = #"{"id":"X","standard":"C1","title":"t","purpose":"escalation","applies":{},"starts":"created","stops":"resolved","restarts_on":["resolved"],"steps":[{"due":{"seconds":60},"tell":[{"role":"supervisor"}]}]}"#
        #expect(try JSONDecoder().decode(ClockRule.self, from: Data(text.utf8)).problems == ["X: restarting on resolved would stop it at once"])
    }

    @Test func aRuleWhoseStandardCannotNameItsBreachEventIsRefusedByTheLoader() throws {
        func problems(_ standard: String) throws -> [String] {
            let text = #"{"id":"X","standard":"\#(standard)","title":"t","purpose":"escalation","applies":{},"starts":"created","stops":"resolved","steps":[{"due":{"seconds":60},"tell":[{"role":"supervisor"}]}]}"#
            return try JSONDecoder().decode(ClockRule.self, from: Data(text.utf8)).problems
        }
        #expect(try problems("C1") == [] && problems("R4_repair") == [] && problems("BENCH") == [])
        for bad in ["", "C 1", "C1.x", "C1#", "B3-dispute", "投诉", String(repeating: "C", count: 41)] {
            #expect(try problems(bad).count == 1, "\(bad)")
        }
    }
}
