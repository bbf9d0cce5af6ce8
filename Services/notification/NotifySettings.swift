import Foundation
import Notify
import ServiceKit

/// The notification service's own settings: channel endpoints and credentials (from the
/// environment only, never the repo or the database), retries, quiet hours and rate limits.
struct NotifySettings: Sendable {
    var smtp: URL?
    var smtpFrom: String
    /// Named endpoints: a contact's address on these channels is one of the names.
    var webhooks: [String: URL]
    var wecomRobots: [String: URL]
    var dingtalkRobots: [String: URL]
    var smsURL: URL?
    var smsBody: String
    var smsHeaders: [(String, String)]
    /// Where the console channel appends its messages (JSON lines); nil: the log.
    var consoleFile: String?
    var retry: RetryPolicy
    var quietHours: QuietHours
    /// Messages per second per channel; nil: no limit. Urgent messages are never held back.
    var rates: [ChannelKind: Double]
    /// Sends in flight at once.
    var concurrency: Int
    var httpTimeout: Duration

    static let reference: [(name: String, defaultValue: String?, meaning: String)] = [
        ("PROPDESK_SMTP_URL", nil, "e-mail: smtp://[user:password@]host:port (plain SMTP, AUTH PLAIN; use a local relay for TLS)"),
        ("PROPDESK_SMTP_FROM", "propdesk@localhost", "the From address of e-mails"),
        ("PROPDESK_WEBHOOKS", nil, "generic webhooks: name=https://…;name2=…, the names used as roster addresses"),
        ("PROPDESK_WECOM_ROBOTS", nil, "WeCom group robots: name=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…;…"),
        ("PROPDESK_DINGTALK_ROBOTS", nil, "DingTalk group robots: name=https://oapi.dingtalk.com/robot/send?access_token=…;…"),
        ("PROPDESK_SMS_URL", nil, "the SMS gateway's URL (POST)"),
        ("PROPDESK_SMS_BODY", #"{"to":"{{phone}}","text":"{{text}}"}"#, "the gateway's request body; {{phone}} and {{text}} are filled in"),
        ("PROPDESK_SMS_HEADERS", nil, "extra request headers: Name: value;Name2: value (an API key, say)"),
        ("PROPDESK_CONSOLE_FILE", nil, "the console channel's file (JSON lines); unset: the log"),
        ("PROPDESK_NOTIFY_MAX_ATTEMPTS", "5", "sends on one channel before falling back to the person's next, 1–20"),
        ("PROPDESK_NOTIFY_RETRY_BASE_MS", "1000", "first retry wait, doubling (with jitter) up to 5 minutes, 10–600000"),
        ("PROPDESK_QUIET_HOURS", "21:00-08:00", "residents hear nothing in these hours (the property's time) unless urgent"),
        ("PROPDESK_NOTIFY_RATES", "sms=10,email=10,wecom=0.33,dingtalk=0.33", "messages per second per channel; 0 or absent: no limit"),
        ("PROPDESK_NOTIFY_CONCURRENCY", "32", "sends in flight at once, 1–512"),
        ("PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS", "10", "how long one send may take (an HTTP request, a whole SMTP session), 1–120"),
    ]

    static func load(_ environment: [String: String]) throws(ConfigurationError) -> NotifySettings {
        var reader = Reader(environment: environment)
        func url(_ name: String, _ text: String?) -> URL? {
            guard let text else { return nil }
            guard let url = URL(string: text), let scheme = url.scheme, url.host != nil,
                  ["http", "https", "smtp"].contains(scheme) else {
                reader.problem(name, "must be a URL (http, https or smtp), got \"\(Self.redacted(text))\"")
                return nil
            }
            return url
        }
        func named(_ name: String) -> [String: URL] {
            var result: [String: URL] = [:]
            for pair in (reader.optional(name) ?? "").split(separator: ";") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, let u = url(name, parts[1]) else {
                    if pair.split(separator: "=", maxSplits: 1).count != 2 { reader.problem(name, "entries are name=url, separated by ;") }
                    continue
                }
                result[parts[0].trimmingCharacters(in: .whitespaces)] = u
            }
            return result
        }
        var rates: [ChannelKind: Double] = [.sms: 10, .email: 10, .wecom: 20.0 / 60, .dingtalk: 20.0 / 60]
        if let text = reader.optional("PROPDESK_NOTIFY_RATES") {
            rates = [:]
            for pair in text.split(separator: ",") {
                let parts = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let channel = ChannelKind(rawValue: parts[0]), let rate = Double(parts[1]), rate >= 0 else {
                    reader.problem("PROPDESK_NOTIFY_RATES", "entries are channel=messages-per-second, got \"\(pair)\"")
                    continue
                }
                if rate > 0 { rates[channel] = rate }
            }
        }
        let quietText = reader.string("PROPDESK_QUIET_HOURS", default: "21:00-08:00")
        let quiet = QuietHours(quietText)
        if quiet == nil { reader.problem("PROPDESK_QUIET_HOURS", "must be HH:MM-HH:MM, got \"\(quietText)\"") }
        var headers: [(String, String)] = []
        for pair in (reader.optional("PROPDESK_SMS_HEADERS") ?? "").split(separator: ";") where !pair.isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty { headers.append((parts[0], parts[1])) } else {
                reader.problem("PROPDESK_SMS_HEADERS", "entries are Name: value, separated by ;")
            }
        }
        let settings = NotifySettings(
            smtp: url("PROPDESK_SMTP_URL", reader.optional("PROPDESK_SMTP_URL")),
            smtpFrom: reader.string("PROPDESK_SMTP_FROM", default: "propdesk@localhost"),
            webhooks: named("PROPDESK_WEBHOOKS"), wecomRobots: named("PROPDESK_WECOM_ROBOTS"),
            dingtalkRobots: named("PROPDESK_DINGTALK_ROBOTS"),
            smsURL: url("PROPDESK_SMS_URL", reader.optional("PROPDESK_SMS_URL")),
            smsBody: reader.string("PROPDESK_SMS_BODY", default: #"{"to":"{{phone}}","text":"{{text}}"}"#),
            smsHeaders: headers,
            consoleFile: reader.optional("PROPDESK_CONSOLE_FILE"),
            retry: RetryPolicy(base: .milliseconds(reader.int("PROPDESK_NOTIFY_RETRY_BASE_MS", default: 1000, range: 10...600_000)),
                               cap: .seconds(300),
                               maxAttempts: reader.int("PROPDESK_NOTIFY_MAX_ATTEMPTS", default: 5, range: 1...20)),
            quietHours: quiet ?? .standard, rates: rates,
            concurrency: reader.int("PROPDESK_NOTIFY_CONCURRENCY", default: 32, range: 1...512),
            httpTimeout: .seconds(reader.int("PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS", default: 10, range: 1...120)))
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return settings
    }

    /// A URL with its query and password hidden (they carry the robots' keys).
    static func redacted(_ text: String) -> String {
        guard var parts = URLComponents(string: text) else { return "…" }
        if parts.password != nil { parts.password = "***" }
        if parts.query != nil { parts.query = "***" }
        return parts.string ?? "…"
    }
}
