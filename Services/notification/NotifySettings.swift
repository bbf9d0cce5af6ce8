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

    static func load(_ environment: [String: String]) throws(ConfigurationError) -> NotifySettings {
        var reader = Reader(environment: environment)
        let settings = read(&reader)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return settings
    }

    /// Every variable the service reads of its own, with its default (the README's table).
    static var variables: [Reader.Variable] {
        var reader = Reader(environment: [:])
        _ = read(&reader)
        return reader.variables
    }

    private static func read(_ reader: inout Reader) -> NotifySettings {
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
            for pair in (reader.secret(name, required: false) ?? "").split(separator: ";") where !pair.isEmpty {
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
        for pair in (reader.secret("PROPDESK_SMS_HEADERS", required: false) ?? "").split(separator: ";") where !pair.isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty { headers.append((parts[0], parts[1])) } else {
                reader.problem("PROPDESK_SMS_HEADERS", "entries are Name: value, separated by ;")
            }
        }
        let settings = NotifySettings(
            smtp: url("PROPDESK_SMTP_URL", reader.secret("PROPDESK_SMTP_URL", required: false)),
            smtpFrom: reader.string("PROPDESK_SMTP_FROM", default: "propdesk@localhost"),
            webhooks: named("PROPDESK_WEBHOOKS"), wecomRobots: named("PROPDESK_WECOM_ROBOTS"),
            dingtalkRobots: named("PROPDESK_DINGTALK_ROBOTS"),
            smsURL: url("PROPDESK_SMS_URL", reader.secret("PROPDESK_SMS_URL", required: false)),
            smsBody: reader.string("PROPDESK_SMS_BODY", default: #"{"to":"{{phone}}","text":"{{text}}"}"#),
            smsHeaders: headers,
            consoleFile: reader.optional("PROPDESK_CONSOLE_FILE"),
            retry: RetryPolicy(base: .milliseconds(reader.int("PROPDESK_NOTIFY_RETRY_BASE_MS", default: 1000, range: 10...600_000)),
                               cap: .seconds(300),
                               maxAttempts: reader.int("PROPDESK_NOTIFY_MAX_ATTEMPTS", default: 5, range: 1...20)),
            quietHours: quiet ?? .standard, rates: rates,
            concurrency: reader.int("PROPDESK_NOTIFY_CONCURRENCY", default: 32, range: 1...512),
            httpTimeout: .seconds(reader.int("PROPDESK_NOTIFY_HTTP_TIMEOUT_SECONDS", default: 10, range: 1...120)))
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
