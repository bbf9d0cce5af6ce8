import Foundation

/// A day on a property's calendar (no time, no zone), written `2026-10-01`.
public struct CivilDate: Hashable, Comparable, Sendable, TextCodable {
    static let textFormat = "a date YYYY-MM-DD"

    /// Days since 1970-01-01 (proleptic Gregorian).
    public let ordinal: Int

    public init(ordinal: Int) { self.ordinal = ordinal }

    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day) else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        ordinal = era * 146_097 + doe - 719_468
    }

    /// `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var components: (year: Int, month: Int, day: Int) {
        let z = ordinal + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
    public var isoWeekday: Int { ((ordinal % 7 + 7) % 7 + 3) % 7 + 1 }
    public var isWeekend: Bool { isoWeekday >= 6 }

    public func adding(days: Int) -> CivilDate { CivilDate(ordinal: ordinal + days) }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { a.ordinal < b.ordinal }

    public var description: String {
        let c = components
        return String(format: "%04d-%02d-%02d", c.year, c.month, c.day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// A time of day on the wall clock, written `09:00`.
public struct TimeOfDay: Hashable, Comparable, Sendable, TextCodable {
    static let textFormat = "a time HH:MM"

    /// Seconds after midnight, 0 ..< 86,400 (`24:00` is allowed as a closing time: 86,400).
    public let seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
              (0...24).contains(h), (0...59).contains(m), h < 24 || m == 0 else { return nil }
        seconds = h * 3_600 + m * 60
    }

    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.seconds < b.seconds }

    public var description: String { String(format: "%02d:%02d", seconds / 3_600, seconds % 3_600 / 60) }

}

/// A value written in JSON as its text (`2026-10-01`, `09:00`): `description` out, `init?(_:)` in.
protocol TextCodable: Codable, CustomStringConvertible {
    init?(_ text: String)
    /// What the text should look like, for the error.
    static var textFormat: String { get }
}

extension TextCodable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not \(Self.textFormat)"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Which opening hours a clock counts (I5): the front desk's, or the back office's.
public enum Schedule: String, Codable, Sendable, CaseIterable {
    /// 前台: Mon–Fri 09:00–21:00, weekends and holidays 09:00–17:00 by default.
    case reception
    /// 后台: working days 09:00–17:00 by default; closed on rest days.
    case backOffice = "back_office"
}

/// Opening hours of one schedule: on working days, and on rest days (nil: closed).
public struct OpeningHours: Codable, Sendable, Equatable {
    public struct Span: Codable, Sendable, Equatable {
        public var open: TimeOfDay
        public var close: TimeOfDay
        public init(_ open: TimeOfDay, _ close: TimeOfDay) {
            self.open = open
            self.close = close
        }
    }

    public var workday: Span?
    public var restday: Span?

    public init(workday: Span?, restday: Span?) {
        self.workday = workday
        self.restday = restday
    }

    public static let reception = OpeningHours(workday: Span(TimeOfDay(seconds: 9 * 3_600), TimeOfDay(seconds: 21 * 3_600)),
                                               restday: Span(TimeOfDay(seconds: 9 * 3_600), TimeOfDay(seconds: 17 * 3_600)))
    public static let backOffice = OpeningHours(workday: Span(TimeOfDay(seconds: 9 * 3_600), TimeOfDay(seconds: 17 * 3_600)),
                                                restday: nil)
}

/// A property's working calendar: which days are working days — Monday to Friday, minus statutory
/// holidays, plus the make-up working weekends (调休) — in the property's time zone, and the
/// opening hours of each ``Schedule``. Pure: every function takes the instants it works on.
public struct WorkCalendar: Sendable {
    public enum DayKind: String, Codable, Sendable {
        /// A statutory holiday (or its bridge day) that would otherwise be a working day.
        case holiday
        /// A weekend day worked instead (调休上班).
        case workday
    }

    public let timeZone: TimeZone
    public let exceptions: [CivilDate: DayKind]
    public let hours: [Schedule: OpeningHours]
    private let gregorian: Calendar

    public init(timeZone: TimeZone, exceptions: [CivilDate: DayKind] = [:],
                hours: [Schedule: OpeningHours] = [.reception: .reception, .backOffice: .backOffice]) {
        self.timeZone = timeZone
        self.exceptions = exceptions
        self.hours = hours
        var g = Calendar(identifier: .gregorian)
        g.timeZone = timeZone
        gregorian = g
    }

    public func isWorkingDay(_ day: CivilDate) -> Bool {
        switch exceptions[day] {
        case .holiday: false
        case .workday: true
        case nil: !day.isWeekend
        }
    }

    /// The working day on or after `day`.
    public func workingDay(onOrAfter day: CivilDate) -> CivilDate {
        var d = day
        // A year has at most a few weeks of consecutive rest days; bounded against bad data.
        for _ in 0..<400 where !isWorkingDay(d) { d = d.adding(days: 1) }
        return d
    }

    /// The property-local date of an instant.
    public func day(of instant: Date) -> CivilDate {
        let c = gregorian.dateComponents([.year, .month, .day], from: instant)
        return CivilDate(year: c.year!, month: c.month!, day: c.day!)!
    }

    /// The property-local time of day of an instant.
    public func time(of instant: Date) -> TimeOfDay {
        let c = gregorian.dateComponents([.hour, .minute, .second], from: instant)
        return TimeOfDay(seconds: c.hour! * 3_600 + c.minute! * 60 + c.second!)
    }

    /// The instant of a local date and time (the first, where a zone repeats an hour).
    public func instant(_ day: CivilDate, _ time: TimeOfDay) -> Date {
        let c = day.components
        let midnight = gregorian.date(from: DateComponents(year: c.year, month: c.month, day: c.day))!
        if time.seconds == 0 { return midnight }
        let h = time.seconds / 3_600, m = time.seconds % 3_600 / 60, s = time.seconds % 60
        if h == 24 { return instant(day.adding(days: 1), TimeOfDay(seconds: 0)) }
        return gregorian.date(bySettingHour: h, minute: m, second: s, of: midnight) ?? midnight.addingTimeInterval(Double(time.seconds))
    }

    /// The hours `schedule` is open on `day`; nil when it is closed all day.
    public func span(_ schedule: Schedule, on day: CivilDate) -> (open: Date, close: Date)? {
        let h = hours[schedule] ?? (schedule == .reception ? .reception : .backOffice)
        guard let s = isWorkingDay(day) ? h.workday : h.restday, s.open < s.close else { return nil }
        return (instant(day, s.open), instant(day, s.close))
    }

    public func isOpen(_ schedule: Schedule, at instant: Date) -> Bool {
        guard let s = span(schedule, on: day(of: instant)) else { return false }
        return s.open <= instant && instant < s.close
    }

    /// `instant` itself if `schedule` is open then, else its next opening.
    public func nextOpening(_ schedule: Schedule, atOrAfter instant: Date) -> Date {
        var d = day(of: instant)
        for _ in 0..<400 {
            if let s = span(schedule, on: d), instant < s.close { return max(s.open, instant) }
            d = d.adding(days: 1)
        }
        return instant
    }

    /// The instant when `schedule` has been open for `seconds` after `start` (closed hours do not
    /// count): "within 1 working hour".
    public func addingOpenTime(_ seconds: Int, _ schedule: Schedule, to start: Date) -> Date {
        var left = Double(max(0, seconds))
        var at = nextOpening(schedule, atOrAfter: start)
        for _ in 0..<2_000 {
            guard let s = span(schedule, on: day(of: at)) else {
                at = nextOpening(schedule, atOrAfter: at)
                continue
            }
            let available = s.close.timeIntervalSince(at)
            if left <= available { return at.addingTimeInterval(left) }
            left -= available
            at = nextOpening(schedule, atOrAfter: s.close)
        }
        return at
    }

    /// `seconds` of wall time counted from when `schedule` is next open (`start` itself if it is
    /// open); a due time that would fall after a close carries what is left over to the next
    /// opening. "Within 5 min" of a call at 03:41 is 09:05, and a ladder of 5, 10, 15 and 30 min
    /// keeps its spacing (09:05, 09:10, 09:15, 09:30) instead of collapsing onto 09:00; a
    /// 24-hour clock whose wall-clock due lands in the night moves on by the time it overran.
    public func addingWallTime(_ seconds: Int, _ schedule: Schedule, to start: Date) -> Date {
        var at = nextOpening(schedule, atOrAfter: start).addingTimeInterval(Double(max(0, seconds)))
        for _ in 0..<400 {
            if isOpen(schedule, at: at) { return at }
            guard let close = lastClose(schedule, atOrBefore: at) else { return nextOpening(schedule, atOrAfter: at) }
            at = nextOpening(schedule, atOrAfter: close).addingTimeInterval(at.timeIntervalSince(close))
        }
        return at
    }

    /// The latest close of `schedule` at or before `instant`.
    func lastClose(_ schedule: Schedule, atOrBefore instant: Date) -> Date? {
        var d = day(of: instant)
        for _ in 0..<400 {
            if let s = span(schedule, on: d), s.close <= instant { return s.close }
            d = d.adding(days: -1)
        }
        return nil
    }

    /// The close of `schedule` on the `n`-th working day after the day of `start`: "within 3
    /// working days" — a Friday request is due on Wednesday, a holiday eve's after the holiday.
    /// `n = 0`: the close on the day of `start` if it is a working day, else the next one's.
    public func closeOfWorkingDay(_ n: Int, after start: Date, _ schedule: Schedule) -> Date {
        var d = day(of: start)
        if n == 0 {
            d = workingDay(onOrAfter: d)
        } else {
            for _ in 0..<n { d = workingDay(onOrAfter: d.adding(days: 1)) }
        }
        return span(schedule, on: d)?.close ?? instant(d, TimeOfDay(seconds: 17 * 3_600))
    }

    /// "Before the end of the working day, or at the next morning meeting" (C4): the close of
    /// `schedule` today if it is still open or yet to open today, else the next opening.
    public func endOfWorkingDay(after start: Date, _ schedule: Schedule) -> Date {
        if let s = span(schedule, on: day(of: start)), start < s.close { return s.close }
        return nextOpening(schedule, atOrAfter: start)
    }

    /// `time` on the day `daysLater` after the day of `start` ("by 09:00 next day"); with
    /// `onWorkingDays`, on the `daysLater`-th working day after it.
    public func at(_ time: TimeOfDay, daysLater: Int, onWorkingDays: Bool, from start: Date) -> Date {
        var d = day(of: start)
        if onWorkingDays {
            for _ in 0..<max(daysLater, 0) { d = workingDay(onOrAfter: d.adding(days: 1)) }
        } else {
            d = d.adding(days: daysLater)
        }
        return instant(d, time)
    }
}

extension CivilDate {
    /// The date on the wall calendar of `timeZone` at `instant`: the property's today is
    /// `CivilDate.of(Date(), in: zone)`, never the UTC date (at 19:40 UTC it is already tomorrow
    /// in Shanghai).
    public static func of(_ instant: Date, in timeZone: TimeZone) -> CivilDate {
        var g = Calendar(identifier: .gregorian)
        g.timeZone = timeZone
        let c = g.dateComponents([.year, .month, .day], from: instant)
        return CivilDate(year: c.year!, month: c.month!, day: c.day!)!
    }

    /// Years a date from outside may name: earlier or later is a typing error, never a record.
    public static let plausibleYears = 2000...2100
}

/// A report's period, `[from, to)` in the property's own days.
public struct ReportPeriod: Sendable, Equatable {
    public var from: CivilDate
    public var to: CivilDate

    /// Without `from`: this many days before `to`.
    public static let defaultDays = 30

    public init(from: CivilDate, to: CivilDate) {
        self.from = from
        self.to = to
    }

    /// The period asked for; `to` defaults to the day after the property's today (today counts),
    /// `from` to ``defaultDays`` before `to`. Refused: `from` not before `to`, or a year outside
    /// ``CivilDate/plausibleYears``.
    public static func resolve(from: CivilDate?, to: CivilDate?, now: Date, timeZone: TimeZone) -> Result<ReportPeriod, ValidationFailure> {
        let to = to ?? CivilDate.of(now, in: timeZone).adding(days: 1)
        let from = from ?? to.adding(days: -defaultDays)
        var problems: [Problem] = []
        for (field, day) in [("from", from), ("to", to)] where !CivilDate.plausibleYears.contains(day.components.year) {
            problems.append(.init(field: field, code: .invalidFormat,
                                  message: "\(field) must be a date in the years \(CivilDate.plausibleYears.lowerBound)–\(CivilDate.plausibleYears.upperBound)"))
        }
        if problems.isEmpty, from >= to {
            problems.append(.init(field: "from", code: .invalidFormat, message: "from must be before to"))
        }
        return problems.isEmpty ? .success(ReportPeriod(from: from, to: to)) : .failure(ValidationFailure(problems: problems))
    }
}

extension ReportPeriod {
    /// The property's week, Monday to Sunday, that holds `day` (or the property's today):
    /// `[Monday, the next Monday)`. A week is the calendar's, whatever its holidays and make-up
    /// working days: a complaint at 23:59 on Sunday in the property's zone is in that week.
    /// Refused: a year outside ``CivilDate/plausibleYears``.
    public static func week(containing day: CivilDate?, now: Date, timeZone: TimeZone) -> Result<ReportPeriod, ValidationFailure> {
        let day = day ?? CivilDate.of(now, in: timeZone)
        guard CivilDate.plausibleYears.contains(day.components.year) else {
            return .failure(ValidationFailure(problems: [.init(field: "week", code: .invalidFormat,
                message: "week must be a date in the years \(CivilDate.plausibleYears.lowerBound)–\(CivilDate.plausibleYears.upperBound)")]))
        }
        let monday = day.adding(days: 1 - day.isoWeekday)
        return .success(ReportPeriod(from: monday, to: monday.adding(days: 7)))
    }

    /// A month (`2026-11`) or a quarter (`2026-Q4`) of the property's calendar, by default the
    /// month that holds the property's today: `[the 1st, the next period's 1st)`. Refused, in
    /// `field`: anything else, or a year outside ``CivilDate/plausibleYears``.
    public static func monthOrQuarter(_ text: String?, now: Date, timeZone: TimeZone, field: String = "period") -> Result<ReportPeriod, ValidationFailure> {
        func refused(_ message: String) -> Result<ReportPeriod, ValidationFailure> {
            .failure(ValidationFailure(problems: [.init(field: field, code: .invalidFormat, message: message)]))
        }
        let today = CivilDate.of(now, in: timeZone).components
        var year = today.year, first = today.month, months = 1
        if let text {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 4, let y = Int(parts[0]), parts[0].allSatisfy(\.isASCII) else {
                return refused("\(field) must be a month (2026-11) or a quarter (2026-Q4)")
            }
            year = y
            if parts[1].count == 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let m = Int(parts[1]), (1...12).contains(m) {
                first = m
            } else if parts[1].count == 2, parts[1].first == "Q", let q = Int(parts[1].dropFirst()), (1...4).contains(q) {
                first = 3 * q - 2
                months = 3
            } else {
                return refused("\(field) must be a month (2026-11) or a quarter (2026-Q4)")
            }
        }
        guard CivilDate.plausibleYears.contains(year) else {
            return refused("\(field) must be in the years \(CivilDate.plausibleYears.lowerBound)–\(CivilDate.plausibleYears.upperBound)")
        }
        let next = first + months
        guard let from = CivilDate(year: year, month: first, day: 1),
              let to = CivilDate(year: next > 12 ? year + 1 : year, month: next > 12 ? next - 12 : next, day: 1) else {
            return refused("\(field) is not a period of the calendar")
        }
        return .success(ReportPeriod(from: from, to: to))
    }

    /// The period of the same length just before this one (last week, for a week).
    public var previous: ReportPeriod {
        ReportPeriod(from: from.adding(days: from.ordinal - to.ordinal), to: from)
    }
}
