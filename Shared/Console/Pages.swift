import Desk
import Domain
import Foundation
import Mustache

/// The console's pages: Mustache templates (`Templates/`, every value HTML-escaped by `{{…}}`;
/// the only unescaped inserts are the server's own SVG charts) and its two static files
/// (`Assets/`: one stylesheet, one script). Loaded once at start; a missing one stops the start.
public struct ConsolePages: Sendable {
    private let library: MustacheLibrary
    private let assets: [String: Asset]

    public struct Asset: Sendable {
        public var contentType: String
        public var bytes: [UInt8]
    }

    public static let pageNames = ["login", "error", "call", "board", "ticket", "work", "supervisor", "reports", "resident"]
    static let assetTypes = ["console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"]

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func bundled() throws -> ConsolePages {
        guard let root = Bundle.module.resourceURL else { throw LoadError(description: "the console's resources are missing") }
        return try ConsolePages(templates: root.appendingPathComponent("Templates"), assets: root.appendingPathComponent("Assets"))
    }

    public init(templates: URL, assets directory: URL) throws {
        var library = MustacheLibrary()
        for file in (try? FileManager.default.contentsOfDirectory(atPath: templates.path)) ?? [] where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            try library.register(text, named: String(file.dropLast(".mustache".count)))
        }
        let missing = (Self.pageNames + ["header", "footer", "board_row"]).filter { library.getTemplate(named: $0) == nil }
        guard missing.isEmpty else { throw LoadError(description: "console templates missing: \(missing.joined(separator: ", "))") }
        var assets: [String: Asset] = [:]
        for (name, type) in Self.assetTypes {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                throw LoadError(description: "console asset missing: \(name)")
            }
            assets[name] = Asset(contentType: type, bytes: Array(data))
        }
        self.library = library
        self.assets = assets
    }

    public func asset(_ name: String) -> Asset? { assets[name] }

    /// Every `{{t.key}}` the bundled templates use (a test checks each has its words).
    public static func templateTextKeys() throws -> Set<String> {
        guard let root = Bundle.module.resourceURL?.appendingPathComponent("Templates") else { return [] }
        var keys: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: root.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: /\{\{t\.([a-z_]+)\}\}/) { keys.insert(String(match.1)) }
        }
        return keys
    }

    public func render(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? ""
    }

    /// One row of the board, as the page and the live updates both show it.
    public func boardRow(_ row: BoardRow, _ language: ConsoleLanguage, now: Date = Date()) -> String {
        render("board_row", BoardLine.context(row, language, now: now))
    }
}

/// How close a running clock step is to its due time: `ok`, `soon` (in its last fifth, or its
/// last minute) or `late`. The page's script ticks the same boundaries (`data-soon`, `data-due`).
public enum Urgency: String, Sendable {
    case ok, soon, late

    public static func soonAt(started: Date, due: Date) -> Date {
        due.addingTimeInterval(-max(60, due.timeIntervalSince(started) * 0.2))
    }

    public static func of(started: Date, due: Date, now: Date) -> Urgency {
        now >= due ? .late : now >= soonAt(started: started, due: due) ? .soon : .ok
    }
}

/// Times and durations as the console writes them.
public enum ConsoleTime {
    /// ISO 8601 with milliseconds (the script parses it).
    public static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }

    /// `2026-12-02 10:30:05` in the property's zone.
    public static func local(_ date: Date, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// `+08:00`: the zone's offset now, for a time typed on a form.
    public static func offset(_ zone: TimeZone, at date: Date = Date()) -> String {
        let seconds = zone.secondsFromGMT(for: date)
        return String(format: "%@%02d:%02d", seconds < 0 ? "-" : "+", abs(seconds) / 3600, abs(seconds) % 3600 / 60)
    }

    /// `4:05`, `1:02:03`, `2d 3:04:05` (as the script writes countdowns).
    public static func duration(_ seconds: TimeInterval) -> String {
        let total = Int(abs(seconds).rounded(.down))
        let d = total / 86400, h = total % 86400 / 3600, m = total % 3600 / 60, s = total % 60
        let clock = h > 0 || d > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%02d:%02d", m, s)
        return (seconds < 0 ? "-" : "") + (d > 0 ? "\(d)d \(clock)" : clock)
    }
}

/// A board row's template values.
public enum BoardLine {
    public static func context(_ row: BoardRow, _ language: ConsoleLanguage, now: Date) -> [String: Any] {
        var context: [String: Any] = [
            "id": row.id.uuidString.lowercased(),
            "number": row.number,
            "kind": ConsoleText.label(row.kind.rawValue, language),
            "status": ConsoleText.label(row.status.rawValue, language),
            "summary": row.summary,
            "holding": row.holding.map { ConsoleText.label($0.rawValue, language) }.joined(separator: language.listSeparator),
            "breached": row.breached,
            "no_clock": ConsoleText.get("no_clock", language),
            "urgency": row.next.map { Urgency.of(started: $0.startedAt, due: $0.dueAt, now: now).rawValue } ?? "ok",
        ]
        if let next = row.next {
            context["next"] = [
                "due_at": ConsoleTime.iso(next.dueAt),
                "soon_at": ConsoleTime.iso(Urgency.soonAt(started: next.startedAt, due: next.dueAt)),
                "left": ConsoleTime.duration(next.dueAt.timeIntervalSince(now)),
                "standard": next.standard, "title": ClockTitles.title(next.title, language), "step": next.step, "steps": next.steps,
            ] as [String: Any]
        }
        return context
    }
}

/// Bar charts drawn on the server as SVG: no script, no third-party code, escaped text.
public enum Charts {
    public struct Bar: Sendable {
        public var label: String
        /// Stacked parts: value and its CSS-free colour.
        public var parts: [(value: Int, colour: String, name: String)]

        public init(label: String, parts: [(value: Int, colour: String, name: String)]) {
            self.label = label
            self.parts = parts
        }
    }

    /// Horizontal stacked bars, one per row, scaled to the largest total; each part's value is
    /// written on it and named in its `<title>`.
    public static func stackedBars(_ bars: [Bar], title: String, width: Int = 640) -> String {
        let rowHeight = 26, labelWidth = 180, top = 24
        let chartWidth = width - labelWidth - 40
        let height = top + max(1, bars.count) * rowHeight + 10
        let largest = max(1, bars.map { $0.parts.reduce(0) { $0 + $1.value } }.max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" aria-label=\"\(escape(title))\">"
        svg += "<title>\(escape(title))</title>"
        for (i, bar) in bars.enumerated() {
            let y = top + i * rowHeight
            svg += "<text x=\"0\" y=\"\(y + 16)\">\(escape(bar.label))</text>"
            var x = labelWidth
            for part in bar.parts where part.value > 0 {
                let w = max(2, Int((Double(part.value) / Double(largest) * Double(chartWidth)).rounded()))
                svg += "<rect x=\"\(x)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowHeight - 8)\" fill=\"\(escape(part.colour))\"><title>\(escape(part.name)): \(part.value)</title></rect>"
                if w >= 18 { svg += "<text x=\"\(x + 4)\" y=\"\(y + 16)\" fill=\"#fff\">\(part.value)</text>" }
                x += w
            }
        }
        if bars.isEmpty { svg += "<text x=\"0\" y=\"\(top + 16)\">—</text>" }
        return svg + "</svg>"
    }

    /// A Pareto chart: one column per category, most first, scaled to the largest; the cumulative
    /// share as a line on a 0–100% scale on the right; the line at `line` (80%) dashed; the vital
    /// few in `vitalColour`, the rest grey. Each column's count is written above it and its
    /// label, count and cumulative share are in its `<title>`.
    public static func pareto(_ columns: [(label: String, count: Int, cumulativeShare: Double, vitalFew: Bool)], line: Double,
                              title: String, lineLabel: String, width: Int = 640, vitalColour: String = "#b3261e") -> String {
        let height = 260, left = 36, right = 44, top = 20, bottom = 56
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let largest = max(1, columns.map(\.count).max() ?? 1)
        let step = columns.isEmpty ? plotWidth : plotWidth / columns.count
        let barWidth = max(4, Int(Double(step) * 0.7))
        func y(share: Double) -> Int { top + Int(((1 - share) * Double(plotHeight)).rounded()) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" aria-label=\"\(escape(title))\">"
        svg += "<title>\(escape(title))</title>"
        svg += "<line x1=\"\(left)\" y1=\"\(top + plotHeight)\" x2=\"\(left + plotWidth)\" y2=\"\(top + plotHeight)\" stroke=\"#5f6368\"/>"
        svg += "<text x=\"\(left + plotWidth + 4)\" y=\"\(top + 4)\" font-size=\"11\">100%</text>"
        var points: [String] = []
        for (i, column) in columns.enumerated() {
            let x = left + i * step + (step - barWidth) / 2
            let h = max(1, Int((Double(column.count) / Double(largest) * Double(plotHeight)).rounded()))
            let percent = Int((column.cumulativeShare * 100).rounded())
            svg += "<rect class=\"\(column.vitalFew ? "vital" : "other")\" x=\"\(x)\" y=\"\(top + plotHeight - h)\" width=\"\(barWidth)\" height=\"\(h)\" fill=\"\(column.vitalFew ? escape(vitalColour) : "#9aa0a6")\">"
            svg += "<title>\(escape(column.label)): \(column.count) (\(percent)%)</title></rect>"
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + plotHeight - h - 3)\" text-anchor=\"middle\" font-size=\"11\">\(column.count)</text>"
            let label = column.label.count > 8 ? String(column.label.prefix(7)) + "…" : column.label
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\" font-size=\"11\">\(escape(label))</text>"
            points.append("\(x + barWidth / 2),\(y(share: column.cumulativeShare))")
        }
        if !points.isEmpty {
            svg += "<polyline class=\"cumulative\" points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#1a73e8\" stroke-width=\"2\"/>"
            for point in points {
                let xy = point.split(separator: ",")
                svg += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"#1a73e8\"/>"
            }
        }
        let lineY = y(share: line)
        svg += "<line class=\"pareto-line\" x1=\"\(left)\" y1=\"\(lineY)\" x2=\"\(left + plotWidth)\" y2=\"\(lineY)\" stroke=\"#a15c00\" stroke-dasharray=\"6 4\"/>"
        svg += "<text x=\"\(left + plotWidth + 4)\" y=\"\(lineY + 4)\" font-size=\"11\" fill=\"#a15c00\">\(escape(lineLabel))</text>"
        if columns.isEmpty { svg += "<text x=\"\(left)\" y=\"\(top + 16)\">—</text>" }
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
