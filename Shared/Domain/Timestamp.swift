import Foundation

/// An instant written in ISO 8601 / RFC 3339 as requests and PostgreSQL's `to_jsonb` write it:
/// `2026-11-23T09:30:00+08:00`, `2026-11-23T01:30:00.123Z`, `2026-11-23T09:30:00.123456+08:00`.
/// Strict: every field must exist on the calendar and the clock (no `2025-13-45`, no
/// `2026-02-30`, no `99:99`), and nothing is normalised into another day.
public enum Timestamp {
    public static let format = "an ISO 8601 time like 2026-11-23T09:30:00+08:00"

    public static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        func number(_ from: Int, _ length: Int) -> Int? {
            guard from + length <= u.count else { return nil }
            var value = 0
            for i in from..<from + length {
                guard (48...57).contains(u[i]) else { return nil }
                value = value * 10 + Int(u[i]) - 48
            }
            return value
        }
        guard u.count >= 20, let year = number(0, 4), u[4] == 0x2D, let month = number(5, 2), u[7] == 0x2D, let day = number(8, 2),
              u[10] == 0x54 || u[10] == 0x74 || u[10] == 0x20, let hour = number(11, 2), u[13] == 0x3A, let minute = number(14, 2),
              u[16] == 0x3A, let second = number(17, 2),
              let date = CivilDate(year: year, month: month, day: day), hour < 24, minute < 60, second < 60 else { return nil }
        var i = 19
        var fraction = 0.0
        if u[i] == 0x2E {
            i += 1
            var scale = 0.1
            let start = i
            while i < u.count, (48...57).contains(u[i]) {
                fraction += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start, i - start <= 9 else { return nil }
        }
        guard i < u.count else { return nil }   // a zone is required: a time without one means nothing here
        var offset = 0
        if u[i] == 0x5A || u[i] == 0x7A {
            i += 1
        } else if u[i] == 0x2B || u[i] == 0x2D {
            let sign = u[i] == 0x2B ? 1 : -1
            guard let oh = number(i + 1, 2), oh <= 14 else { return nil }
            i += 3
            var om = 0
            if i < u.count, u[i] == 0x3A {
                guard let m = number(i + 1, 2), m < 60 else { return nil }
                om = m
                i += 3
            }
            offset = sign * (oh * 3_600 + om * 60)
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        let seconds = date.ordinal * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// Checks a form's text fields the same way everywhere: trimmed, required or not, at most `max`
/// characters, and no NUL or other control character but tab and newline (PostgreSQL cannot
/// store a NUL, and a silently cut text is a lie on the record).
public struct FieldCheck {
    public private(set) var problems: [Problem] = []

    public init() {}

    public mutating func add(_ problem: Problem) { problems.append(problem) }

    /// The trimmed text, or nil (with a problem where it is required, too long or unreadable).
    public mutating func text(_ value: String?, _ field: String, required: Bool, max: Int, what: String? = nil) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let trimmed, !trimmed.isEmpty else {
            if required {
                problems.append(.init(field: field, code: .required, message: what.map { "\(field) (\($0)) is required" } ?? "\(field) is required"))
            }
            return nil
        }
        if let bad = Self.controlCharacter(in: trimmed) {
            problems.append(.init(field: field, code: .invalidFormat, message: "\(field) contains a control character (\(bad)); it is not stored"))
            return nil
        }
        if trimmed.count > max {
            problems.append(.init(field: field, code: .tooLong, message: "\(field) is \(trimmed.count) characters; at most \(max)"))
            return nil
        }
        return trimmed
    }

    /// One of an enumeration's raw values, or nil (with a problem where it is missing and
    /// required, or not one of them).
    public mutating func choice<E: RawRepresentable & CaseIterable>(_ value: String?, _ field: String, required: Bool, _: E.Type,
                                                                    what: String? = nil) -> E? where E.RawValue == String {
        guard let value, !value.isEmpty else {
            if required {
                problems.append(.init(field: field, code: .required, message: what.map { "\(field) (\($0)) is required" } ?? "\(field) is required"))
            }
            return nil
        }
        guard let parsed = E(rawValue: value) else {
            let shown = Self.controlCharacter(in: value) == nil ? String(value.prefix(40)) : "(unreadable)"
            problems.append(.init(field: field, code: .unknownValue,
                                  message: "\"\(shown)\" is not a \(field); one of \(E.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        return parsed
    }

    /// The first character no record should hold: NUL and the other C0/C1 controls, except tab,
    /// line feed and carriage return. Written as `U+0000`.
    public static func controlCharacter(in text: String) -> String? {
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || (0x7F...0x9F).contains(v) {
                return String(format: "U+%04X", v)
            }
        }
        return nil
    }

    public var failure: ValidationFailure? { problems.isEmpty ? nil : ValidationFailure(problems: problems) }
}
