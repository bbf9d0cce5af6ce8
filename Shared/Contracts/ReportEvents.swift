import Domain
import Foundation

/// The events of the scheduled reports: `report.<report>.ready`, published by escalation when a
/// property's scheduled report has been rendered and filed (once, whatever the replicas).
public enum ReportEvents {
    public static let weeklyComplaints = "weekly_complaints"
    public static func ready(_ report: String) -> String { "report.\(report).ready" }
    /// Who receives a scheduled report: the customer-service manager and the general manager (C9).
    public static let recipients = [Recipient(.departmentManager, .customerService), Recipient(.generalManager, .management)]
    public static var allTypes: [String] { [ready(weeklyComplaints)] }
}

/// The payload of `report.<report>.ready`: which file, for which week, and its headline figures
/// (no resident's name, phone or address: the file itself is behind the reports permission).
public struct ReportReadyPayload: Codable, Sendable, Equatable {
    public var report: String
    public var fileID: UUID
    /// The console path that opens the file (signed in, with `reports.read` on the property).
    public var path: String
    /// `[from, to)` in the property's days.
    public var from: String
    public var to: String
    public var total: Int
    public var previousTotal: Int
    public var withinTime: Int
    /// The categories that make up 80% (a complaint without a category reads as an empty string).
    public var vitalFew: [String]
    public var carriedOver: Int
    public var tell: [Recipient]

    enum CodingKeys: String, CodingKey {
        case report, path, from, to, total, tell
        case fileID = "file_id"
        case previousTotal = "previous_total"
        case withinTime = "within_time"
        case vitalFew = "vital_few"
        case carriedOver = "carried_over"
    }

    public init(report: String, fileID: UUID, from: String, to: String, total: Int, previousTotal: Int, withinTime: Int,
                vitalFew: [String], carriedOver: Int, tell: [Recipient] = ReportEvents.recipients) {
        self.report = report
        self.fileID = fileID
        self.path = "/reports/files/\(fileID.uuidString.lowercased())"
        self.from = from
        self.to = to
        self.total = total
        self.previousTotal = previousTotal
        self.withinTime = withinTime
        self.vitalFew = vitalFew
        self.carriedOver = carriedOver
        self.tell = tell
    }
}
