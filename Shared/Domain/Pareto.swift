/// A Pareto analysis (C9: the one or two categories that cause 80% of the complaints): the
/// categories sorted by count, each with its share and the cumulative share, and the "vital few"
/// marked: every category up to and including the one whose cumulative share reaches the line.
public struct ParetoRow<Key: Sendable & Equatable>: Sendable, Equatable {
    public var key: Key
    public var count: Int
    public var share: Double
    public var cumulativeShare: Double
    public var vitalFew: Bool
}

public enum Pareto {
    /// The standards' line: the categories that make up 80% of the complaints.
    public static let line = 0.8

    /// `counts` sorted by count, most first (ties in `order`), with their shares. Zero counts are
    /// left out; no counts give no rows.
    public static func rows<Key: Sendable & Equatable>(_ counts: [(key: Key, count: Int)],
                                                     order: (Key, Key) -> Bool) -> [ParetoRow<Key>] {
        let kept = counts.filter { $0.count > 0 }.sorted { a, b in a.count != b.count ? a.count > b.count : order(a.key, b.key) }
        let total = kept.reduce(0) { $0 + $1.count }
        var running = 0
        return kept.map { entry in
            let before = Double(running) / Double(total)
            running += entry.count
            // A category is one of the few while the ones before it make up less than the line
            // (8 of 10 before it is on the line: a quotient of integers rounds as the literal does).
            return ParetoRow(key: entry.key, count: entry.count, share: Double(entry.count) / Double(total),
                             cumulativeShare: Double(running) / Double(total), vitalFew: before < line)
        }
    }
}
