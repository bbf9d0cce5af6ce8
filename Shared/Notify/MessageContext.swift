import Domain
import Foundation

/// The values a template sees: the event's payload (already masked, P1), with the ticket number
/// under one name, kinds and departments in the reader's language and times in the property's
/// zone. Pure.
public enum MessageContext {
    public static func make(payload: [String: Any], language: Language, zone: TimeZone) -> [String: Any] {
        var context = payload
        if let kind = (payload["kind"] as? String).flatMap(TicketKind.init(rawValue:)) {
            context["kind_name"] = name(of: kind, in: language)
        }
        let department = (payload["department"] as? String).flatMap(Department.init(rawValue:))
        context["queue_name"] = department.map { name(of: $0, in: language) } ?? (language == .en ? "the service desk" : "客服中心")
        context["place"] = (payload["place"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "—"
        for (key, name) in [("due_at", "due"), ("started_at", "started"), ("requested_at", "expected")] {
            if let text = payload[key] as? String, let date = parseTime(text) { context[name] = format(date, zone: zone) }
        }
        if let fen = payload["amount_fen"] as? Int { context["amount"] = Money(fen: Int64(fen)).display }
        context["number"] = payload["number"] ?? payload["ticket_number"] ?? payload["reference"] ?? ""
        let action = (payload["action"] as? String).flatMap(ApprovalAction.init(rawValue:)) ?? .approve
        let zh: [ApprovalAction: String] = [.review: "审核", .approve: "审批", .audit: "审计"]
        context["action_name"] = language == .en ? action.rawValue : zh[action]
        return context
    }

    static func parseTime(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// `2026-11-23 14:05` in the property's zone.
    public static func format(_ date: Date, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    public static func name(of kind: TicketKind, in language: Language) -> String {
        let zh: [TicketKind: String] = [
            .complaint: "投诉", .repair: "报修", .emergency: "紧急事件", .inquiry: "咨询", .doorOpen: "开门", .lockChange: "换锁",
            .keyLoan: "钥匙借用", .parcel: "快件", .paidService: "有偿服务", .moveIn: "入住", .moveOut: "迁出", .decoration: "装修",
            .itemLoan: "物品借用", .publicAnomaly: "公共区域异常", .nameplate: "水牌", .fee: "物业费",
        ]
        return language == .en ? kind.rawValue.replacingOccurrences(of: "_", with: " ") : zh[kind] ?? kind.rawValue
    }

    public static func name(of department: Department, in language: Language) -> String {
        let zh: [Department: String] = [
            .customerService: "客服部", .engineering: "工程部", .security: "保安部", .cleaning: "环境部", .concierge: "礼宾部",
            .finance: "财务部", .sales: "销售部", .hr: "人事部", .management: "管理处", .audit: "审计部",
        ]
        return language == .en ? department.rawValue.replacingOccurrences(of: "_", with: " ") : zh[department] ?? department.rawValue
    }
}
