import Foundation
import Testing
@testable import Domain

/// The 2026 Spring Festival as the State Council set it: 16–23 February off (the 21st and 22nd
/// are a weekend anyway), Saturday 14 and Saturday 28 February worked.
let shanghai2026 = WorkCalendar(
    timeZone: TimeZone(identifier: "Asia/Shanghai")!,
    exceptions: Dictionary(uniqueKeysWithValues: [16, 17, 18, 19, 20, 23].map { (CivilDate(year: 2026, month: 2, day: $0)!, WorkCalendar.DayKind.holiday) }
        + [(CivilDate("2026-02-14")!, .workday), (CivilDate("2026-02-28")!, .workday)]))

@Suite("Money, to the fen")
struct MoneyTests {
    @Test func amountsAreReadAsYuanWithAtMostTwoDecimals() throws {
        #expect(try Money.parse(yuan: "1000.00").get() == Money(fen: 100_000))
        #expect(try Money.parse(yuan: "1000").get() == Money(fen: 100_000))
        #expect(try Money.parse(yuan: "0.5").get() == Money(fen: 50))
        #expect(try Money.parse(yuan: "1000.01").get().fen == 100_001)
        #expect(try Money.parse(yuan: "100000000.00").get() == Money.maximum)
    }

    @Test func badAmountsAreRefusedEachWithItsOwnReason() {
        func problem(_ text: String, allowZero: Bool = false) -> AmountProblem? {
            if case .failure(let p) = Money.parse(yuan: text, allowZero: allowZero) { return p }
            return nil
        }
        #expect(problem("-1.00") == .negative)
        #expect(problem("0.00") == .zero)
        #expect(problem("0", allowZero: true) == nil)
        #expect(problem("100000000.01") == .tooLarge)
        #expect(problem("99999999999999999999") == .tooLarge)
        #expect(problem("1.005") == .tooPrecise)
        for text in ["", "abc", "1,000", "1e3", " 1", "1.", ".5", "+1", "１０", "1.0.0", "NaN", "1\u{0}"] {
            #expect(problem(text) == .notNumeric, "\(text)")
        }
        #expect(AmountProblem.tooPrecise.code == .amountTooPrecise)
    }

    @Test func anAmountComesAsAStringOfYuanOrAnIntegerOfFenNeverBoth() throws {
        #expect(try AmountInput(yuan: "20.00").money().get() == Money(fen: 2_000))
        #expect(try AmountInput(fen: 2_000).money().get() == Money(fen: 2_000))
        if case .failure(let f) = AmountInput(yuan: "1", fen: 100).money() { #expect(f.problems.first?.code == .validationFailed) } else { Issue.record("both accepted") }
        if case .failure(let f) = AmountInput(yuanNotText: true).money() { #expect(f.problems.first?.code == .amountNotNumeric) } else { Issue.record("a JSON number accepted") }
        if case .failure(let f) = AmountInput().money() { #expect(f.problems.first?.code == .required) } else { Issue.record("nothing accepted") }
        if case .failure(let f) = AmountInput(fen: -5).money() { #expect(f.problems.first?.field == "amount_fen") } else { Issue.record("negative fen accepted") }
    }

    @Test func amountsAreWrittenForTheAPIForPeopleAndInCapitalsForReceipts() {
        #expect(Money(fen: 100_000).description == "1000.00")
        #expect(Money(fen: -2_050).description == "-20.50")
        #expect(Money(fen: 5).description == "0.05")
        #expect(Money(fen: 123_456_789).display == "¥1,234,567.89")
        #expect(Money(fen: 100_000).capitals == "壹仟元整")
        #expect(Money(fen: 2_000).capitals == "贰拾元整")
        #expect(Money(fen: 1_005_050).capitals == "壹万零伍拾元伍角整")
        #expect(Money(fen: 100_000_001).capitals == "壹佰万元零壹分")
        #expect(Money(fen: 1_000_000_000).capitals == "壹仟万元整")
        #expect(Money(fen: 10_000_100_000).capitals == "壹亿零壹仟元整")
        #expect(Money(fen: 35).capitals == "叁角伍分")
    }

    @Test func percentagesRoundHalfUpToTheFen() {
        #expect(Money(fen: 12_345).percent(70) == Money(fen: 8_642))  // 8641.5 → 8642
        #expect(Money(fen: 10).percent(5) == Money(fen: 1))           // 0.5 → 1
        #expect(Money.divideRounded(-15, 10) == -2)
    }

    @Test func aJournalEntryExistsOnlyIfItBalances() {
        #expect(JournalEntry([Posting(.cash, nil, Money(fen: 100)), Posting(.receivable, nil, Money(fen: -99))]) == nil)
        let entry = JournalEntry.transfer(Money(fen: 2_000), debit: .cash, credit: .depositsHeld, "loan-1")
        #expect(entry.postings.map(\.amount.fen).reduce(0, +) == 0)
        let back = entry.reversed()!
        #expect(back.postings.map(\.amount.fen) == [-2_000, 2_000])
    }
}

@Suite("B4: repair costs go to the approver their amount names")
struct ApprovalChainTests {
    func chain(_ yuan: String) -> [String] {
        ApprovalChain.steps(for: try! Money.parse(yuan: yuan).get()).map { "\($0.action.rawValue):\($0.approver.role.rawValue)/\($0.approver.department!.rawValue)" }
    }

    @Test func eachBoundaryBelongsToTheLowerBand() {
        #expect(chain("1000.00") == ["approve:department_manager/customer_service", "audit:department_manager/customer_service"])
        #expect(chain("1000.01") == ["review:chief_engineer/engineering", "approve:vice_general_manager/management", "audit:department_manager/customer_service"])
        #expect(chain("10000.00") == ["review:chief_engineer/engineering", "approve:vice_general_manager/management", "audit:department_manager/customer_service"])
        #expect(chain("10000.01") == ["approve:general_manager/management", "audit:department_manager/customer_service"])
        #expect(chain("20000.00") == ["approve:general_manager/management", "audit:department_manager/customer_service"])
        #expect(chain("20000.01") == ["approve:general_manager/management", "audit:department_manager/audit"])
    }

    @Test func thePropertysOwnLimitsAreData() throws {
        let own = try JSONDecoder().decode(ApprovalLimits.self, from: Data(#"{"manager_up_to_fen": 50000}"#.utf8))
        #expect(own.managerUpTo == Money(fen: 50_000))
        #expect(own.viceGMUpTo == ApprovalLimits.standard.viceGMUpTo)
        #expect(ApprovalChain.steps(for: Money(fen: 50_001), limits: own).first?.approver.role == .chiefEngineer)
    }
}

@Suite("B6–B8: fees, late fees, the dunning ladder and the money clocks")
struct FeeTests {
    @Test func aCustodialHomePaysSeventyPercentKeyedToItsStatus() {
        let rule = FeeRule(ratePerSquareMetre: Money(fen: 350))  // ¥3.50 per m² per month
        let area = Area.parse("89.50")!
        #expect(rule.monthlyFee(area: area, status: .occupied) == Money(fen: 31_325))   // 89.50 × 3.50
        #expect(rule.monthlyFee(area: area, status: .vacant) == Money(fen: 21_928))     // × 70% = 219.275 → 219.28
        #expect(rule.monthlyFee(area: area, status: .entrusted) == rule.monthlyFee(area: area, status: .vacant))
        #expect(Area.parse("0") == nil)
        #expect(Area.parse("100000.01") == nil)
    }

    @Test func lateFeesAccruePerDayOrPerStartedMonthAfterTheGrace() {
        let daily = LateFeeRule(per: .day, rate: 5, graceDays: 0)  // 万分之五 a day
        #expect(daily.accrued(on: Money(fen: 100_000), daysLate: 10) == Money(fen: 500))
        #expect(daily.accrued(on: Money(fen: 100_000), daysLate: 0) == .zero)
        let monthly = LateFeeRule(per: .month, rate: 100, graceDays: 15)  // 1% a month after 15 days
        #expect(monthly.accrued(on: Money(fen: 100_000), daysLate: 15) == .zero)
        #expect(monthly.accrued(on: Money(fen: 100_000), daysLate: 16) == Money(fen: 1_000))
        #expect(monthly.accrued(on: Money(fen: 100_000), daysLate: 46) == Money(fen: 2_000))
    }

    @Test func theLadderOnlyMovesForwardOneRecordedStepAtATime() {
        #expect(DunningStage.none.canRecord(.reminded))
        #expect(DunningStage.letterDue.canRecord(.letterSent))
        #expect(DunningStage.reminded.canRecord(.letterSent))
        #expect(!DunningStage.letterSent.canRecord(.reminded))
        #expect(!DunningStage.reminded.canRecord(.letterDue))
        #expect(!DunningStage.legal.canRecord(.legal))
    }

    @Test func theReminderFallsOnAMakeUpSaturdayWhenThatIsTheNextWorkingDay() {
        // Due Friday 13 February 2026; Saturday the 14th is worked instead of a Spring Festival day.
        let dueStart = shanghai2026.instant(CivilDate("2026-02-13")!, TimeOfDay(seconds: 0))
        let reminder = MoneyDue.days(1).instant(from: dueStart, calendar: shanghai2026)
        #expect(reminder == shanghai2026.instant(CivilDate("2026-02-14")!, TimeOfDay("09:00")!))
        // Due on the 15th (a Sunday): the next working day is after the holiday, the 24th.
        let later = MoneyDue.days(1).instant(from: shanghai2026.instant(CivilDate("2026-02-15")!, TimeOfDay(seconds: 0)), calendar: shanghai2026)
        #expect(shanghai2026.day(of: later) == CivilDate("2026-02-24")!)
    }

    @Test func threeMonthsAfterTheReminderIsTheSameDayOrTheMonthsLastThenAWorkingDay() {
        #expect(CivilDate("2026-01-31")!.adding(months: 1) == CivilDate("2026-02-28")!)
        #expect(CivilDate("2023-11-30")!.adding(months: 3) == CivilDate("2024-02-29")!)
        #expect(CivilDate("2026-11-14")!.adding(months: 3) == CivilDate("2027-02-14")!)
        // 14 November 2025 + 3 months is Saturday 14 February 2026: a make-up working day.
        let letter = MoneyDue.months(3).instant(from: shanghai2026.instant(CivilDate("2025-11-14")!, TimeOfDay("15:00")!), calendar: shanghai2026)
        #expect(letter == shanghai2026.instant(CivilDate("2026-02-14")!, TimeOfDay("09:00")!))
    }

    @Test func moneyClockRulesReadAndWriteTheirJSON() throws {
        for rule in MoneyClocks.rules {
            let data = try JSONEncoder().encode(rule)
            #expect(try JSONDecoder().decode(MoneyClockRule.self, from: data) == rule)
        }
        let rule = MoneyClocks.rules.first { $0.id == MoneyClocks.letter }!
        #expect(rule.isStarted(by: "dunning.stepped", stage: "reminded"))
        #expect(!rule.isStarted(by: "dunning.stepped", stage: "letter_sent"))
        #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(MoneyDue.self, from: Data(#"{"days": -1}"#.utf8)) }
    }
}
