import Foundation

/// A value sent as a query parameter, in PostgreSQL's text format; `nil` is SQL NULL.
public protocol PostgresEncodable: Sendable {
    var postgresText: String? { get }
}

/// A value read from a result column, from PostgreSQL's text format.
public protocol PostgresDecodable {
    init(postgresText: String) throws(PostgresDecodingError)
}

public struct PostgresDecodingError: Error, CustomStringConvertible, Equatable {
    public let type: String
    public let text: String
    public var description: String { "cannot read \"\(text.prefix(64))\" as \(type)" }
    public init(type: String, text: String) {
        self.type = type
        self.text = text
    }
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self }
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let v = Int(postgresText) else { throw .init(type: "Int", text: postgresText) }
        self = v
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let v = Int64(postgresText) else { throw .init(type: "Int64", text: postgresText) }
        self = v
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let v = Int32(postgresText) else { throw .init(type: "Int32", text: postgresText) }
        self = v
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let v = Double(postgresText) else { throw .init(type: "Double", text: postgresText) }
        self = v
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self ? "t" : "f" }
    public init(postgresText: String) throws(PostgresDecodingError) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw .init(type: "Bool", text: postgresText)
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { uuidString.lowercased() }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let v = UUID(uuidString: postgresText) else { throw .init(type: "UUID", text: postgresText) }
        self = v
    }
}

extension Date: PostgresEncodable, PostgresDecodable {
    /// Sent as ISO 8601 UTC with microseconds.
    public var postgresText: String? { PostgresTimestamp.format(self) }
    /// Read from `timestamptz` in the session's UTC/ISO style: `2026-11-22 10:05:00.123456+00`.
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard let d = PostgresTimestamp.parse(postgresText) else { throw .init(type: "Date", text: postgresText) }
        self = d
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? { self?.postgresText }
}

/// A JSON document for `json`/`jsonb` columns, kept as its UTF-8 text.
public struct PostgresJSON: PostgresEncodable, PostgresDecodable, Sendable, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws {
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    public init(postgresText: String) { text = postgresText }
    public var postgresText: String? { text }
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }
}

/// `bytea`, in hex format.
public struct PostgresBytes: PostgresEncodable, PostgresDecodable, Sendable, Equatable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var postgresText: String? { "\\x" + bytes.map { String(format: "%02x", $0) }.joined() }
    public init(postgresText: String) throws(PostgresDecodingError) {
        guard postgresText.hasPrefix("\\x"), postgresText.count % 2 == 0 else { throw .init(type: "bytea", text: postgresText) }
        var out: [UInt8] = []
        var chars = postgresText.utf8.dropFirst(2).makeIterator()
        while let h = chars.next(), let l = chars.next() {
            guard let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { throw .init(type: "bytea", text: postgresText) }
            out.append(v)
        }
        bytes = out
    }
}

/// An array parameter (`int8[]`, `text[]`, `uuid[]`) in PostgreSQL's array literal syntax.
public struct PostgresArray<Element: PostgresEncodable>: PostgresEncodable {
    public var elements: [Element]
    public init(_ elements: [Element]) { self.elements = elements }
    public var postgresText: String? {
        "{" + elements.map { e -> String in
            guard let t = e.postgresText else { return "NULL" }
            let escaped = t.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        }.joined(separator: ",") + "}"
    }
}

enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - seconds * 1_000_000
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, fraction)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]` (also with `T`), the output of a session
    /// in `DateStyle=ISO`. Returns nil for anything else, including `infinity`.
    static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= u.count else { return nil }
            var v = 0
            for i in from..<from + len {
                let d = Int(u[i]) - 48
                guard (0...9).contains(d) else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard u.count >= 19, let year = num(0, 4), u[4] == 45, let month = num(5, 2), u[7] == 45, let day = num(8, 2),
              u[10] == 32 || u[10] == 84, let hour = num(11, 2), u[13] == 58, let minute = num(14, 2), u[16] == 58,
              let second = num(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < u.count, u[i] == 46 {
            i += 1
            var scale = 0.1
            while i < u.count, (48...57).contains(u[i]) {
                fraction += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < u.count {
            if u[i] == 90 { i += 1 }  // Z
            else if u[i] == 43 || u[i] == 45 {
                let sign = u[i] == 43 ? 1 : -1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0, os = 0
                i += 3
                if i < u.count, u[i] == 58, let m = num(i + 1, 2) { om = m; i += 3 }
                if i < u.count, u[i] == 58, let s = num(i + 1, 2) { os = s; i += 3 }
                offset = sign * (oh * 3600 + om * 60 + os)
            } else { return nil }
        }
        guard i == u.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
