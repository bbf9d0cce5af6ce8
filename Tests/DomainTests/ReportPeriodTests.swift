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
}
