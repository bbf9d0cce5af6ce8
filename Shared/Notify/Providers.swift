import Crypto
import Domain
import Foundation

/// DingTalk (钉钉) signed group robots (加签): the URL carries `timestamp` (milliseconds) and
/// `sign`, the HMAC-SHA256 of `timestamp + "\n" + secret` keyed with the secret, in Base64, then
/// URL-encoded. DingTalk refuses a timestamp more than an hour away from its clock. Pure.
public enum DingTalkSigning {
    /// The signature, Base64 (before URL encoding).
    public static func signature(secret: String, timestampMs: Int64) -> String {
        let key = SymmetricKey(data: Data(secret.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestampMs)\n\(secret)".utf8), using: key)
        return Data(mac).base64EncodedString()
    }

    /// The robot's URL with `timestamp` and `sign` added (any earlier ones replaced).
    public static func signed(_ url: URL, secret: String, at date: Date) -> URL {
        let timestamp = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        guard var parts = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let sign = signature(secret: secret, timestampMs: timestamp).addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        let kept = (parts.percentEncodedQueryItems ?? []).filter { $0.name != "timestamp" && $0.name != "sign" }
        parts.percentEncodedQueryItems = kept + [URLQueryItem(name: "timestamp", value: "\(timestamp)"), URLQueryItem(name: "sign", value: sign)]
        return parts.url ?? url
    }
}

/// How many messages a channel may send in a window (`20/min`: the group robots' allowance).
/// Every replica shares one budget (``SendWindow``, kept in PostgreSQL). Pure.
public struct ChannelLimit: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var window: Duration

    public init(count: Int, window: Duration) {
        self.count = count
        self.window = window
    }

    /// `20/min`, `10/s`, `100/h`, or `20/60s`; at most 1,000 in a window (the window keeps that
    /// many send times; providers' allowances are tens).
    public init?(_ text: String) {
        let parts = text.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let count = Int(parts[0]), (1...1000).contains(count) else { return nil }
        let unit = parts[1]
        let seconds: Int? = switch unit {
        case "s": 1
        case "min": 60
        case "h": 3600
        default: unit.hasSuffix("s") ? Int(unit.dropLast()).flatMap { (1...86_400).contains($0) ? $0 : nil } : nil
        }
        guard let seconds else { return nil }
        self.count = count
        window = .seconds(seconds)
    }

    public var description: String { "\(count)/\(window.components.seconds)s" }
}

/// A sliding window over the last sends of one budget: a send may go when fewer than `count` of
/// the recorded sends are within the window (plus a margin for the time a request takes to reach
/// the provider, whose clock is the one that counts). Exact for any window, unlike a token bucket,
/// which lets a full burst and a full refill into one minute. Pure.
public struct SendWindow: Sendable, Equatable {
    /// Send times, oldest first: at most `limit.count` of them.
    public var recent: [Date]
    public let limit: ChannelLimit
    public let margin: Duration

    /// `margin`: by default a tenth of the window, at most 2 s (a 10/s window is not made 10/1.1 s
    /// by more than it needs; a minute's gets 2 s).
    public init(recent: [Date], limit: ChannelLimit, margin: Duration? = nil) {
        self.recent = Array(recent.sorted().suffix(limit.count))
        self.limit = limit
        self.margin = margin ?? min(.seconds(2), limit.window / 10)
    }

    private var span: TimeInterval {
        Double((limit.window + margin).components.seconds) + Double((limit.window + margin).components.attoseconds) / 1e18
    }

    /// How many of `wanted` sends may go at `now`; they are recorded.
    public mutating func take(_ wanted: Int, at now: Date) -> Int {
        let inWindow = recent.filter { now.timeIntervalSince($0) < span }
        let granted = max(0, min(wanted, limit.count - inWindow.count))
        recent = Array((inWindow + Array(repeating: now, count: granted)).suffix(limit.count))
        return granted
    }

    /// Records sends that went regardless (urgent ones are never held, but they use the allowance).
    public mutating func record(_ count: Int, at now: Date) {
        recent = Array((recent + Array(repeating: now, count: count)).suffix(limit.count))
    }

    /// When the next send may go, if none may now.
    public func nextFree(after now: Date) -> Date? {
        let inWindow = recent.filter { now.timeIntervalSince($0) < span }
        guard inWindow.count >= limit.count, let oldest = inWindow.first else { return nil }
        return oldest.addingTimeInterval(span)
    }
}

/// WeChat service-account (服务号) template messages (模板消息) to residents who follow the
/// property's account: `POST /cgi-bin/message/template/send?access_token=…` with the OpenID, the
/// template id the office chose in its account, and the template's fields. Pure.
public enum WeChatTemplates {
    /// One PropDesk message as a WeChat template: its id, and which fact fills each field.
    public struct Mapping: Sendable, Equatable {
        public var templateID: String
        /// WeChat's field key (`character_string1`, `thing2`, `time3`, `phrase4`) → a fact name.
        public var fields: [(key: String, fact: String)]

        public init(templateID: String, fields: [(key: String, fact: String)]) {
            self.templateID = templateID
            self.fields = fields
        }

        public static func == (a: Mapping, b: Mapping) -> Bool {
            a.templateID == b.templateID && a.fields.map(\.key) == b.fields.map(\.key) && a.fields.map(\.fact) == b.fields.map(\.fact)
        }
    }

    /// The facts a field can show.
    public static let factNames = ["number", "kind", "status", "time", "place", "queue", "amount", "subject", "text"]

    /// `PROPDESK_WECHAT_TEMPLATES`: `received=TEMPLATE_ID:character_string1=number,thing2=kind,time3=time;resolved=…`.
    /// Returns the mappings by PropDesk template name, and the problems.
    public static func parse(_ text: String) -> (mappings: [String: Mapping], problems: [String]) {
        var mappings: [String: Mapping] = [:]
        var problems: [String] = []
        for entry in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let head = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard head.count == 2, let name = TemplateName(rawValue: head[0]), name.audience == .resident else {
                problems.append("\"\(entry.prefix(40))\": entries are <resident message>=<template id>:<field>=<fact>,…; messages: "
                                + TemplateName.allCases.filter { $0.audience == .resident }.map(\.rawValue).joined(separator: ", "))
                continue
            }
            let body = head[1].split(separator: ":", maxSplits: 1).map(String.init)
            guard body.count == 2, !body[0].isEmpty else {
                problems.append("\(name.rawValue): give the template id, a colon, then the fields")
                continue
            }
            var fields: [(key: String, fact: String)] = []
            for field in body[1].split(separator: ",") {
                let kv = field.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, kv[0].range(of: "^[a-z_]+[0-9]+$", options: .regularExpression) != nil, factNames.contains(kv[1]) else {
                    problems.append("\(name.rawValue): field \"\(field)\" is not key=fact (facts: \(factNames.joined(separator: ", ")))")
                    continue
                }
                fields.append((kv[0], kv[1]))
            }
            mappings[name.rawValue] = Mapping(templateID: body[0], fields: fields)
        }
        return (mappings, problems)
    }

    /// WeChat's limits by field type: longer values are refused, so they are cut (with …).
    static func fit(_ value: String, key: String) -> String {
        let limit = key.hasPrefix("thing") ? 20 : key.hasPrefix("phrase") ? 5 : key.hasPrefix("character_string") ? 32
            : key.hasPrefix("number") ? 32 : key.hasPrefix("time") || key.hasPrefix("date") ? 30 : 200
        return value.count <= limit ? value : String(value.prefix(limit - 1)) + "…"
    }

    /// The request body.
    public static func body(openID: String, mapping: Mapping, facts: [String: String]) -> Data {
        var data: [String: [String: String]] = [:]
        for field in mapping.fields {
            data[field.key] = ["value": fit(facts[field.fact].flatMap { $0.isEmpty ? nil : $0 } ?? "—", key: field.key)]
        }
        let object: [String: Any] = ["touser": openID, "template_id": mapping.templateID, "data": data]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    /// What WeChat's reply means.
    public enum Outcome: Equatable, Sendable {
        case sent
        /// 40001, 40014, 42001: the access token is invalid or expired; fetch another and try once more.
        case invalidToken(String)
        /// 45009 (too many calls) or -1 (system busy): try later.
        case busy(String)
        /// Anything else (43004: the resident no longer follows the account, 40003: bad OpenID, …).
        case refused(String)
    }

    public static func outcome(_ reply: Data) -> Outcome {
        guard let object = try? JSONSerialization.jsonObject(with: reply) as? [String: Any] else { return .busy("unreadable reply") }
        let code = (object["errcode"] as? Int) ?? 0
        let text = "errcode \(code): \(object["errmsg"] as? String ?? "")"
        switch code {
        case 0: return .sent
        case 40001, 40014, 42001: return .invalidToken(text)
        case 45009, -1: return .busy(text)
        default: return .refused(text)
        }
    }

    /// The facts of a resident's message, in their language and the property's zone, for the
    /// template's fields. Stored with the delivery (`deliveries.facts`).
    public static func facts(template: TemplateName, context: [String: Any], message: MessageTemplates.Message,
                             language: Language, at date: Date, zone: TimeZone) -> [String: String] {
        let zh: [TemplateName: String] = [
            .received: "已受理", .onTheWay: "已派工", .onSite: "处理中", .resolved: "已完成", .delayed: "延期处理",
            .followUp: "待回访", .paymentReceipt: "已收款", .feeReminder: "待缴费",
        ]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let time = language == .en
            ? MessageContext.format(date, zone: zone)
            : String(format: "%d年%d月%d日 %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
        var facts: [String: String] = [
            "number": "\(context["number"] ?? "")", "time": time, "subject": message.subject, "text": message.body,
            "status": language == .en ? template.rawValue.replacingOccurrences(of: "-", with: " ") : zh[template] ?? "",
        ]
        for (fact, key) in [("kind", "kind_name"), ("place", "place"), ("queue", "queue_name"), ("amount", "amount")] {
            if let value = context[key] as? String { facts[fact] = value }
        }
        return facts
    }
}
