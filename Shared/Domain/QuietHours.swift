import Foundation

/// No resident hears from us in these hours unless it is an emergency (default 21:00–08:00 in the
/// property's zone). Staff escalations ignore it.
public struct QuietHours: Sendable, Equatable, CustomStringConvertible {
    public var starts: TimeOfDay
    public var ends: TimeOfDay

    public init(starts: TimeOfDay, ends: TimeOfDay) {
        self.starts = starts
        self.ends = ends
    }

    public static let standard = QuietHours(starts: TimeOfDay("21:00")!, ends: TimeOfDay("08:00")!)

    /// `21:00-08:00`; nil when malformed. `00:00-00:00` turns quiet hours off.
    public init?(_ text: String) {
        let parts = text.split(separator: "-").map(String.init)
        guard parts.count == 2, let a = TimeOfDay(parts[0]), let b = TimeOfDay(parts[1]) else { return nil }
        self.init(starts: a, ends: b)
    }

    /// `21:00-08:00`, as it is configured.
    public var description: String { "\(starts)-\(ends)" }

    /// When a message written at `date` may go out: `date` itself, or the end of the quiet hours.
    public func earliestSend(at date: Date, in zone: TimeZone) -> Date {
        guard starts != ends else { return date }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let midnight = calendar.startOfDay(for: date)
        let now = Int(date.timeIntervalSince(midnight))
        let quiet = starts < ends ? (now >= starts.seconds && now < ends.seconds) : (now >= starts.seconds || now < ends.seconds)
        guard quiet else { return date }
        let endToday = calendar.date(byAdding: .second, value: ends.seconds, to: midnight)!
        return endToday > date ? endToday : calendar.date(byAdding: .day, value: 1, to: endToday)!
    }
}
