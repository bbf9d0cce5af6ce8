import Foundation

/// The README's tables of settings: every row `| \`PROPDESK_…\` | default | meaning |`.
public struct ReadmeSettings {
    /// Variable → its default cell as written (`` `info` ``, `required`, `unset (no e-mail)`).
    public let defaults: [String: String]

    public init() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        var defaults: [String: String] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") where line.hasPrefix("| `PROPDESK_") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4 else { continue }
            defaults[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[2]
        }
        self.defaults = defaults
    }

    /// What is wrong with the README's rows for these variables (name, default as read by the
    /// code: "required", nil for optional, else the value): a missing row, or a default cell
    /// other than the code's. `perService` names variables whose default the README gives in words.
    public func problems(for variables: [(name: String, defaultValue: String?)], perService: Set<String> = []) -> [String] {
        variables.compactMap { v in
            guard let cell = defaults[v.name] else { return "\(v.name) has no row in README.md" }
            guard let expected = v.defaultValue, !perService.contains(v.name) else { return nil }
            let written = expected == "required" ? "required" : "`\(expected)`"
            return cell == written ? nil : "\(v.name): README.md says the default is \(cell), the code \(written)"
        }
    }
}
