import Domain
import Foundation
import Reports

/// The reports as the console's templates read them, shared by the reports page and the files
/// the scheduled reports send.
public enum ReportViews {
    /// The weekly complaint report's section: figures, the Pareto chart, the tables.
    public static func weekly(_ weekly: Reports.WeeklyComplaints, _ language: ConsoleLanguage) -> [String: Any] {
        func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }
        let uncategorised = ConsoleText.get("uncategorised", language)
        let zone = TimeZone(identifier: weekly.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let chart = Charts.pareto(weekly.categories.map { row in
            (label: row.category ?? uncategorised, count: row.count, cumulativeShare: row.cumulativeShare, vitalFew: row.vitalFew)
        }, line: Pareto.line, title: ConsoleText.get("pareto", language), lineLabel: ConsoleText.get("pareto_line", language))
        return [
            "week": weekly.from.description, "last_day": weekly.to.adding(days: -1).description,
            "property": weekly.property, "total": weekly.total, "previous_total": weekly.previousTotal,
            "within_time": weekly.withinTime, "chart": chart,
            "categories": weekly.categories.map { row in
                ["category": row.category ?? uncategorised, "count": row.count, "previous": row.previous, "within_time": row.withinTime,
                 "share": percent(row.share), "cumulative": percent(row.cumulativeShare), "vital_few": row.vitalFew] as [String: Any]
            },
            "severities": weekly.severities.map { row in
                ["severity": row.severity.map { ConsoleText.label($0, language) } ?? ConsoleText.get("no_severity", language),
                 "count": row.count, "previous": row.previous, "within_time": row.withinTime] as [String: Any]
            },
            "carried_over": weekly.carriedOver.count,
            "open": weekly.carriedOver.oldest.map { row in
                ["number": row.number, "category": row.category ?? uncategorised,
                 "severity": row.severity.map { ConsoleText.label($0, language) } ?? ConsoleText.get("no_severity", language),
                 "created_at": ConsoleTime.local(row.createdAt, zone: zone), "created_at_iso": ConsoleTime.iso(row.createdAt)] as [String: Any]
            },
        ]
    }

    /// The weekly complaint report as one self-contained HTML file (no script, no outside
    /// resource: its style is inline), as the Monday report sends it.
    public static func weeklyFile(_ weekly: Reports.WeeklyComplaints, propertyName: String, language: ConsoleLanguage, pages: ConsolePages,
                                  generatedAt: Date) -> String {
        var context = Self.weekly(weekly, language)
        context["t"] = ConsoleText.all(language)
        context["lang"] = language.rawValue
        context["property_name"] = propertyName
        context["generated_at"] = ConsoleTime.local(generatedAt, zone: TimeZone(identifier: weekly.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!)
        context["time_zone"] = weekly.timeZone
        return pages.render("weekly_report_file", context)
    }
}
