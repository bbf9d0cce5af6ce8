/// Owner files are confidential (P1): phone numbers and addresses never appear in logs or events
/// unmasked. These are the only functions that turn them into something printable.
public enum Masking {
    /// `13812345678` → `138****5678`; `+86 138-1234-5678` → `+86 138****5678`; short numbers
    /// keep at most their last two digits. Non-digits other than a leading `+` are dropped.
    public static func phone(_ raw: String) -> String {
        let trimmed = raw.trimmingSpaces
        var prefix = ""
        var digits = Array(trimmed.unicodeScalars.filter { $0.properties.numericType == .decimal && $0.isASCII }.map(Character.init))
        if trimmed.hasPrefix("+86"), digits.count > 2 {
            prefix = "+86 "
            digits.removeFirst(2)
        } else if trimmed.hasPrefix("+") {
            prefix = "+"
        }
        guard !digits.isEmpty else { return "***" }
        if digits.count >= 11 {
            return prefix + String(digits.prefix(3)) + "****" + String(digits.suffix(4))
        }
        if digits.count >= 7 {
            return prefix + String(repeating: "*", count: digits.count - 4) + String(digits.suffix(4))
        }
        return prefix + String(repeating: "*", count: max(0, digits.count - 2)) + String(digits.suffix(min(2, digits.count)))
    }

    /// Keeps the building, hides the rest: `3号楼 2单元 1202` → `3号楼 ***`; `Tower B, 1202` → `Tower B ***`.
    public static func address(_ raw: String) -> String {
        let trimmed = raw.trimmingSpaces
        guard !trimmed.isEmpty else { return "***" }
        let separators: Set<Character> = [" ", ",", "，", "-", "/"]
        if let first = trimmed.firstIndex(where: { separators.contains($0) }) {
            return String(trimmed[..<first]) + " ***"
        }
        if let building = trimmed.firstIndex(of: "楼") {
            return String(trimmed[...building]) + " ***"
        }
        return "***"
    }
}

extension Masking {
    /// Free text (a complaint's content) with every run of 7 or more digits — a phone number typed
    /// into the note — masked as ``phone(_:)`` would: `call 13812345678 after 6` → `call 138****5678 after 6`.
    public static func text(_ raw: String) -> String {
        var out = ""
        var run = ""
        func flush() {
            // Separators at the end of a run belong to the text around it.
            let trailing = String(run.reversed().prefix { !$0.isASCIIDigit }.reversed())
            let number = run.dropLast(trailing.count)
            out += number.filter(\.isASCIIDigit).count >= 7 ? phone(String(number)) : String(number)
            out += trailing
            run = ""
        }
        for c in raw {
            if c.isASCIIDigit || (!run.isEmpty && (c == "-" || c == " ")) {
                run.append(c)
            } else {
                flush()
                out.append(c)
            }
        }
        flush()
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
