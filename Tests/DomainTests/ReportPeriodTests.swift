import Foundation
import Testing
@testable import Domain

@Suite("Report periods are the property's own days, at any hour")
struct ReportPeriodTests {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    /// 2026-12-01 19:40 UTC: 03:40 on 2 December in Shanghai.
    let smallHoursInShanghai = Date(timeIntervalSince1970: 1_796_154_000)

    @Test func at1940UTCItIsAlreadyTomorrowInShanghai() {
        #expect(CivilDate.of(smallHoursInShanghai, in: TimeZone(identifier: "UTC")!).description == "2026-12-01")
        #expect(CivilDate.of(smallHoursInShanghai, in: shanghai).description == "2026-12-02")
    }

    @Test func theDefaultPeriodEndsWithThePropertysTodayNotTheServersDate() throws {
        let period = try ReportPeriod.resolve(from: nil, to: nil, now: smallHoursInShanghai, timeZone: shanghai).get()
        #expect(period.to.description == "2026-12-03")   // [from, to): today, 2 December, counts
        #expect(period.from.description == "2026-11-03")
        // Just before midnight in Shanghai (15:59 UTC) it is still 1 December there.
        let lateEvening = try ReportPeriod.resolve(from: nil, to: nil, now: Date(timeIntervalSince1970: 1_796_140_740),
                                                   timeZone: shanghai).get()
        #expect(lateEvening.to.description == "2026-12-02")
    }

    @Test func aPeriodAskedForIsKeptAndOneThatIsNoPeriodIsRefusedByField() throws {
        let asked = try ReportPeriod.resolve(from: CivilDate("2026-11-01"), to: CivilDate("2026-11-08"), now: smallHoursInShanghai,
                                             timeZone: shanghai).get()
        #expect(asked == ReportPeriod(from: CivilDate("2026-11-01")!, to: CivilDate("2026-11-08")!))
        let backwards = ReportPeriod.resolve(from: CivilDate("2026-11-08"), to: CivilDate("2026-11-01"), now: smallHoursInShanghai,
                                             timeZone: shanghai)
        #expect(throws: ValidationFailure.self) { try backwards.get() }
        let year9999 = ReportPeriod.resolve(from: CivilDate("2026-11-01"), to: CivilDate("9999-01-01"), now: smallHoursInShanghai, timeZone: shanghai)
        #expect((try? year9999.get()) == nil)
        if case .failure(let failure) = year9999 { #expect(failure.problems.map(\.field) == ["to"]) }
    }

    @Test func aWeekRunsMondayToSundayInThePropertysZoneSoSundayAt2359ShanghaiIsStillThatWeek() throws {
        // 2026-12-06 is a Sunday. At 23:59 there (15:59 UTC) the week is 30 Nov – 6 Dec; a minute
        // later (16:00 UTC, still Sunday in UTC) it is the next.
        let sunday2359 = Date(timeIntervalSince1970: 1_796_572_740)
        let week = try ReportPeriod.week(containing: nil, now: sunday2359, timeZone: shanghai).get()
        #expect(week == ReportPeriod(from: CivilDate("2026-11-30")!, to: CivilDate("2026-12-07")!))
        let next = try ReportPeriod.week(containing: nil, now: sunday2359.addingTimeInterval(60), timeZone: shanghai).get()
        #expect(next.from.description == "2026-12-07")
        // Any day names its week; the previous week is the seven days before.
        for day in ["2026-11-30", "2026-12-02", "2026-12-06"] {
            #expect(try ReportPeriod.week(containing: CivilDate(day), now: sunday2359, timeZone: shanghai).get() == week)
        }
        #expect(week.previous == ReportPeriod(from: CivilDate("2026-11-23")!, to: CivilDate("2026-11-30")!))
        #expect((try? ReportPeriod.week(containing: CivilDate("1970-01-05"), now: sunday2359, timeZone: shanghai).get()) == nil)
    }

    @Test func theParetoSortsCategoriesAndMarksTheFewThatMakeUpEightyPercent() {
        let rows = Pareto.rows([(key: "noise", count: 3), (key: "parking", count: 9), (key: "lift", count: 2),
                                (key: "hygiene", count: 6), (key: "fees", count: 0)], order: <)
        #expect(rows.map(\.key) == ["parking", "hygiene", "noise", "lift"])   // no zero rows
        #expect(rows.map(\.count) == [9, 6, 3, 2])
        #expect(rows.map { ($0.cumulativeShare * 100).rounded() } == [45, 75, 90, 100])
        // Parking and hygiene make 75%; noise takes it past 80%, so it is marked too; lift is not.
        #expect(rows.map(\.vitalFew) == [true, true, true, false])
        // Exactly on the line: 8 of 10 before a category leaves it out.
        let onTheLine = Pareto.rows([(key: "a", count: 8), (key: "b", count: 1), (key: "c", count: 1)], order: <)
        #expect(onTheLine.map(\.vitalFew) == [true, false, false])
        // Ties in the order given; nothing counted, nothing drawn.
        #expect(Pareto.rows([(key: "b", count: 1), (key: "a", count: 1)], order: <).map(\.key) == ["a", "b"])
        #expect(Pareto.rows([(key: "a", count: 0)], order: <).isEmpty)
    }

    @Test func aMonthOrAQuarterIsThePropertysOwnAndAnythingElseIsRefusedInPeriod() throws {
        // 16:30 UTC on 31 October is 00:30 on 1 November in Shanghai: this month is November.
        let now = Date(timeIntervalSince1970: 1_793_464_200)
        let thisMonth = try ReportPeriod.monthOrQuarter(nil, now: now, timeZone: shanghai).get()
        #expect(thisMonth.from.description == "2026-11-01" && thisMonth.to.description == "2026-12-01")
        let utcMonth = try ReportPeriod.monthOrQuarter(nil, now: now, timeZone: TimeZone(identifier: "UTC")!).get()
        #expect(utcMonth.from.description == "2026-10-01")
        let december = try ReportPeriod.monthOrQuarter("2026-12", now: now, timeZone: shanghai).get()
        #expect(december.from.description == "2026-12-01" && december.to.description == "2027-01-01")
        let q4 = try ReportPeriod.monthOrQuarter("2026-Q4", now: now, timeZone: shanghai).get()
        #expect(q4.from.description == "2026-10-01" && q4.to.description == "2027-01-01")
        let q1 = try ReportPeriod.monthOrQuarter("2027-Q1", now: now, timeZone: shanghai).get()
        #expect(q1.from.description == "2027-01-01" && q1.to.description == "2027-04-01")
        for text in ["2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-1", "26-11", "2026-11-01", "1999-12", "2101-01", "２０２６-11", "2026-q4", ""] {
            guard case .failure(let failure) = ReportPeriod.monthOrQuarter(text, now: now, timeZone: shanghai) else {
                Issue.record("\(text) was taken as a period")
                continue
            }
            #expect(failure.problems.map(\.field) == ["period"] && failure.problems.first?.code == .invalidFormat)
        }
    }
}
