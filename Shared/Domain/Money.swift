/// An amount of renminbi in fen (分), the only way PropDesk holds money: no floating point
/// anywhere. The API writes amounts as strings of yuan with two decimals (`"1000.00"`) and reads
/// either that or an integer of fen (`amount_fen`); see ``AmountInput``.
public struct Money: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let fen: Int64

    public init(fen: Int64) { self.fen = fen }

    public static let zero = Money(fen: 0)
    /// The most one amount may be: ¥100,000,000.00. More is a typing error, never a charge.
    public static let maximum = Money(fen: 10_000_000_000)

    public static func yuan(_ yuan: Int64) -> Money { Money(fen: yuan * 100) }

    public static func < (a: Money, b: Money) -> Bool { a.fen < b.fen }
    public static func + (a: Money, b: Money) -> Money { Money(fen: a.fen + b.fen) }
    public static func - (a: Money, b: Money) -> Money { Money(fen: a.fen - b.fen) }
    public static prefix func - (a: Money) -> Money { Money(fen: -a.fen) }

    /// `p` percent of this, rounded half away from zero to the fen (70% of a custodial home's fee).
    public func percent(_ p: Int) -> Money { Money(fen: Self.divideRounded(fen * Int64(p), 100)) }

    /// `numerator / denominator`, rounded half away from zero.
    public static func divideRounded(_ numerator: Int64, _ denominator: Int64) -> Int64 {
        let half = denominator / 2
        return numerator >= 0 ? (numerator + half) / denominator : -((-numerator + half) / denominator)
    }

    /// `1000.00`, `-20.50`: the API's spelling.
    public var description: String {
        let sign = fen < 0 ? "-" : ""
        let a = fen.magnitude
        let cents = a % 100
        return "\(sign)\(a / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    /// `¥1,000.00`: for people (receipts, messages).
    public var display: String {
        let text = Money(fen: Int64(fen.magnitude)).description
        let whole = text.prefix(while: { $0 != "." })
        var grouped = ""
        for (i, ch) in whole.enumerated() {
            if i > 0, (whole.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return (fen < 0 ? "-¥" : "¥") + grouped + text.drop(while: { $0 != "." })
    }

    /// The capital-letter amount written on Chinese receipts (大写金额): 壹仟元整, 壹万零伍拾元伍角整.
    public var capitals: String {
        let numerals = Array("零壹贰叁肆伍陆柒捌玖")
        let units = ["", "拾", "佰", "仟"], groups = ["", "万", "亿", "万"]
        let yuan = fen.magnitude / 100, jiao = Int(fen.magnitude % 100 / 10), fenDigit = Int(fen.magnitude % 10)
        let digits = String(yuan).compactMap { $0.wholeNumberValue }
        var text = "", zeroPending = false, groupHasDigit = false
        for (index, d) in digits.enumerated() {
            let position = digits.count - 1 - index
            if d == 0 {
                zeroPending = true
            } else {
                if zeroPending, !text.isEmpty { text += "零" }
                zeroPending = false
                groupHasDigit = true
                text += String(numerals[d]) + units[position % 4]
            }
            if position % 4 == 0, position > 0 {
                if groupHasDigit { text += groups[position / 4 % 4] }
                groupHasDigit = false
            }
        }
        var result = yuan == 0 ? "" : text + "元"
        if jiao == 0, fenDigit == 0 { result = (yuan == 0 ? "零元" : result) + "整" } else {
            if jiao != 0 { result += String(numerals[jiao]) + "角" } else if yuan != 0 { result += "零" }
            result += fenDigit != 0 ? String(numerals[fenDigit]) + "分" : "整"
        }
        return (fen < 0 ? "负" : "") + result
    }
}

/// Why an amount was refused; each is an ``ErrorCode`` of its own.
public enum AmountProblem: Error, Sendable, Equatable {
    case notNumeric, negative, zero, tooLarge, tooPrecise

    public var code: ErrorCode {
        switch self {
        case .notNumeric: .amountNotNumeric
        case .negative: .amountNegative
        case .zero: .amountZero
        case .tooLarge: .amountTooLarge
        case .tooPrecise: .amountTooPrecise
        }
    }

    public func message(_ field: String) -> String {
        switch self {
        case .notNumeric: "\(field) is a string of yuan like \"1000.00\" (digits, at most two decimals), or amount_fen an integer of fen"
        case .negative: "\(field) may not be negative"
        case .zero: "\(field) must be more than zero"
        case .tooLarge: "\(field) is over the most one amount may be (\(Money.maximum.display))"
        case .tooPrecise: "\(field) has more than two decimals: money is counted to the fen"
        }
    }
}

extension Money {
    /// Parses yuan as the API writes them: `1000`, `1000.5`, `1000.00`. No sign, exponent,
    /// spaces or thousands separators; at most two decimals; at most ``maximum``.
    public static func parse(yuan text: String, allowZero: Bool = false) -> Result<Money, AmountProblem> {
        var body = Substring(text)
        var negative = false
        if body.first == "-" {
            negative = true
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
        func digits(_ s: Substring) -> Bool { s.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
        guard !whole.isEmpty, digits(whole), digits(fraction), parts.count == 1 || !fraction.isEmpty else { return .failure(.notNumeric) }
        if negative { return .failure(.negative) }
        guard fraction.count <= 2 else { return .failure(.tooPrecise) }
        let significant = whole.drop(while: { $0 == "0" })
        guard significant.count <= 12, let yuan = Int64(significant.isEmpty ? "0" : significant) else { return .failure(.tooLarge) }
        let cents = Int64(fraction.padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0
        return check(Money(fen: yuan * 100 + cents), allowZero: allowZero)
    }

    /// An integer of fen, within the same bounds.
    public static func check(fen: Int64, allowZero: Bool = false) -> Result<Money, AmountProblem> {
        check(Money(fen: fen), allowZero: allowZero)
    }

    static func check(_ m: Money, allowZero: Bool) -> Result<Money, AmountProblem> {
        if m.fen < 0 { return .failure(.negative) }
        if m.fen == 0, !allowZero { return .failure(.zero) }
        if m > maximum { return .failure(.tooLarge) }
        return .success(m)
    }
}

/// An amount as a request sends it: `amount` (a string of yuan) or `amount_fen` (an integer of
/// fen), never both, never a JSON number in `amount` (a float loses fen).
public struct AmountInput: Sendable, Equatable {
    public var yuan: String?
    public var fen: Int64?
    /// `amount` held something other than a string (a JSON number, a boolean).
    public var yuanNotText: Bool

    public init(yuan: String? = nil, fen: Int64? = nil, yuanNotText: Bool = false) {
        self.yuan = yuan
        self.fen = fen
        self.yuanNotText = yuanNotText
    }

    public var isEmpty: Bool { yuan == nil && fen == nil && !yuanNotText }

    /// The amount, or the problem with it under the field's name (`amount`).
    public func money(field: String = "amount", allowZero: Bool = false) -> Result<Money, ValidationFailure> {
        func problem(_ p: AmountProblem, _ name: String) -> ValidationFailure {
            ValidationFailure(problems: [Problem(field: name, code: p.code, message: p.message(name))])
        }
        if yuanNotText { return .failure(problem(.notNumeric, field)) }
        if yuan != nil, fen != nil {
            return .failure(ValidationFailure(problems: [Problem(field: field, code: .validationFailed, message: "send \(field) or \(field)_fen, not both")]))
        }
        if let yuan {
            return Money.parse(yuan: yuan, allowZero: allowZero).mapError { problem($0, field) }
        }
        if let fen { return Money.check(fen: fen, allowZero: allowZero).mapError { problem($0, field + "_fen") } }
        return .failure(ValidationFailure(problems: [Problem(field: field, code: .required, message: "\(field) is required: a string of yuan like \"1000.00\", or \(field)_fen")]))
    }
}

extension AmountInput {
    /// Reads `<key>` and `<key>_fen` from a keyed container: the one way every form takes money.
    public init<K: CodingKey>(from c: KeyedDecodingContainer<K>, _ key: K, fenKey: K) throws {
        var notText = false
        var yuan: String?
        if c.contains(key), try !c.decodeNil(forKey: key) {
            if let s = try? c.decode(String.self, forKey: key) { yuan = s } else { notText = true }
        }
        var fen: Int64?
        if c.contains(fenKey), try !c.decodeNil(forKey: fenKey) {
            guard let f = try? c.decode(Int64.self, forKey: fenKey) else {
                throw DecodingError.typeMismatch(Int64.self, .init(codingPath: c.codingPath + [fenKey],
                                                                   debugDescription: "\(fenKey.stringValue) is an integer of fen"))
            }
            fen = f
        }
        self.init(yuan: yuan, fen: fen, yuanNotText: notText)
    }
}
