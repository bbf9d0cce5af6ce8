import Foundation
import Testing
@testable import Domain

/// Dates from the State Council's notice on the 2025 holidays: National Day and Mid-Autumn
/// 1–8 October off, Sunday 28 September and Saturday 11 October worked.
let shanghai2025 = WorkCalendar(
    timeZone: TimeZone(identifier: "Asia/Shanghai")!,
    exceptions: Dictionary(uniqueKeysWithValues: (1...8).map { (CivilDate(year: 2025, month: 10, day: $0)!, WorkCalendar.DayKind.holiday) }
        + [(CivilDate("2025-09-28")!, .workday), (CivilDate("2025-10-11")!, .workday)]))

/// A local time in Shanghai: `"2025-10-10 16:30"`.
func local(_ text: String, _ calendar: WorkCalendar = shanghai2025) -> Date {
    let parts = text.split(separator: " ")
    return calendar.instant(CivilDate(String(parts[0]))!, TimeOfDay(String(parts[1]))!)
}

@Suite("Working calendar")
struct CalendarTests {
    @Test func civilDatesRoundTripAndKnowTheirWeekday() {
        let d = CivilDate("2025-10-11")!
        #expect(d.description == "2025-10-11")
        #expect(d.isoWeekday == 6)
        #expect(CivilDate("2024-02-29")!.adding(days: 366).description == "2025-03-01")
        #expect(CivilDate("2025-02-29") == nil)
        #expect(CivilDate("2025-1-01") == nil)
        #expect(TimeOfDay("24:00")?.seconds == 86_400)
        #expect(TimeOfDay("24:30") == nil)
    }

    @Test func datesAndTimesAreWrittenAsTextInJSON() throws {
        #expect(String(decoding: try JSONEncoder().encode([CivilDate("2025-10-11")!]), as: UTF8.self) == #"["2025-10-11"]"#)
        #expect(String(decoding: try JSONEncoder().encode([TimeOfDay("09:30")!]), as: UTF8.self) == #"["09:30"]"#)
        #expect(try JSONDecoder().decode([TimeOfDay].self, from: Data(#"["17:00"]"#.utf8)) == [TimeOfDay("17:00")!])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([CivilDate].self, from: Data(#"["2025-13-01"]"#.utf8)) }
    }

    @Test func holidaysAreOffAndTheMakeUpSaturdayIsWorked() {
        #expect(shanghai2025.isWorkingDay(CivilDate("2025-09-30")!))    // Tuesday, the eve
        #expect(!shanghai2025.isWorkingDay(CivilDate("2025-10-01")!))   // Wednesday, National Day
        #expect(!shanghai2025.isWorkingDay(CivilDate("2025-10-08")!))   // Wednesday, still off
        #expect(shanghai2025.isWorkingDay(CivilDate("2025-10-11")!))    // Saturday, worked
        #expect(!shanghai2025.isWorkingDay(CivilDate("2025-10-12")!))   // Sunday
        #expect(shanghai2025.isWorkingDay(CivilDate("2025-09-28")!))    // Sunday, worked
    }

    @Test func threeWorkingDaysFromAFridayEndOnWednesdayAtTheBackOfficeClose() {
        let due = shanghai2025.closeOfWorkingDay(3, after: local("2025-11-07 10:00"), .backOffice)
        #expect(due == local("2025-11-12 17:00"))
    }

    @Test func oneWorkingDayFromTheEveOfNationalDayIsTheDayAfterTheHoliday() {
        #expect(shanghai2025.closeOfWorkingDay(1, after: local("2025-09-30 10:00"), .backOffice) == local("2025-10-09 17:00"))
    }

    @Test func theMakeUpSaturdayCountsAsAWorkingDay() {
        #expect(shanghai2025.closeOfWorkingDay(1, after: local("2025-10-10 15:00"), .backOffice) == local("2025-10-11 17:00"))
        #expect(shanghai2025.isOpen(.backOffice, at: local("2025-10-11 10:00")))
        // Reception keeps weekday hours on a worked Saturday.
        #expect(shanghai2025.isOpen(.reception, at: local("2025-10-11 20:00")))
    }

    @Test func workingHoursSkipTheNightAndTheWeekend() {
        // Friday 16:30 + 1 back-office hour: 30 min on Friday, 30 on Monday.
        #expect(shanghai2025.addingOpenTime(3_600, .backOffice, to: local("2025-11-07 16:30")) == local("2025-11-10 09:30"))
        // Reception is open on Saturday, 09:00–17:00.
        #expect(shanghai2025.addingOpenTime(3_600, .reception, to: local("2025-11-07 20:30")) == local("2025-11-08 09:30"))
        // Across the whole National Day holiday, the back office is closed.
        #expect(shanghai2025.addingOpenTime(3_600, .backOffice, to: local("2025-09-30 16:30")) == local("2025-10-09 09:30"))
    }

    @Test func theEndOfTheWorkingDayAfterTheCloseIsTheNextMorning() {
        #expect(shanghai2025.endOfWorkingDay(after: local("2025-11-07 11:00"), .backOffice) == local("2025-11-07 17:00"))
        #expect(shanghai2025.endOfWorkingDay(after: local("2025-11-07 18:00"), .backOffice) == local("2025-11-10 09:00"))
        #expect(shanghai2025.endOfWorkingDay(after: local("2025-11-10 07:30"), .backOffice) == local("2025-11-10 17:00"))
    }

    @Test func theLocalDayIsTheProperty_sNotUTC_s() {
        // 15:30 UTC on Friday 10 October is 23:30 in Shanghai (UTC+8, no DST): still Friday there,
        // and "09:00 next day" is Saturday 09:00 local, 01:00 UTC.
        let instant = Date(timeIntervalSince1970: 1_760_110_200)   // 2025-10-10T15:30:00Z
        #expect(shanghai2025.day(of: instant) == CivilDate("2025-10-10"))
        #expect(shanghai2025.time(of: instant) == TimeOfDay("23:30"))
        let due = shanghai2025.at(TimeOfDay("09:00")!, daysLater: 1, onWorkingDays: false, from: instant)
        #expect(due == Date(timeIntervalSince1970: 1_760_144_400))  // 2025-10-11T01:00:00Z
        #expect(!shanghai2025.isOpen(.backOffice, at: instant) && !shanghai2025.isOpen(.reception, at: instant))
        // The same instant for a property kept on UTC is Friday afternoon: everything is open.
        let utc = WorkCalendar(timeZone: TimeZone(identifier: "UTC")!)
        #expect(utc.time(of: instant) == TimeOfDay("15:30"))
        #expect(utc.isOpen(.backOffice, at: instant) && utc.isOpen(.reception, at: instant))
    }
}
