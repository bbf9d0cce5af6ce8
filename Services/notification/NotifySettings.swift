import Foundation
import Notify
import ServiceKit

/// The notification service's own settings: channel endpoints and credentials (from the
/// environment only, never the repo or the database), retries, quiet hours and rate limits.
struct NotifySettings: Sendable {
    var smtp: SMTPServer?
    var smtpFrom: String
    /// AUTH over a connection without TLS (a relay on this host only).
    var smtpAllowPlainAuth: Bool
    /// Named endpoints: a contact's address on these channels is one of the names.
    var webhooks: [String: URL]
    var wecomRobots: [String: URL]
    var dingtalkRobots: [String: URL]
    /// Signed DingTalk robots (加签): the robot's secret by robot name.
    var dingtalkSecrets: [String: String]
    var smsURL: URL?
    var smsBody: String
    var smsHeaders: [(String, String)]
    /// Where the gateway's reply names its id for the message (`BizId`, `Response.SendStatusSet.0.SerialNo`):
    /// its delivery receipt names the same id.
    var smsReplyID: [String]?
    /// The shared secret a gateway's receipt must carry (`?key=`); nil: receipts are refused.
    var smsReceiptKey: String?
    var wechat: WeChatSettings?
    /// Where the console channel appends its messages (JSON lines); nil: the log.
    var consoleFile: String?
    var retry: RetryPolicy
    /// How many messages each channel may send in a window, shared by every replica (per robot for
    /// the group robots); a channel not named has no limit. Urgent messages are never held back.
    var limits: [ChannelKind: ChannelLimit]
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
            guard let url = URL(string: text), let scheme = url.scheme, url.host != nil, ["http", "https"].contains(scheme) else {
                reader.problem(name, "must be a URL (http or https), got \"\(Self.redacted(text))\"")
                return nil
            }
            return url
        }
        func pairs(_ name: String, _ text: String?) -> [(String, String)] {
            var result: [(String, String)] = []
            for pair in (text ?? "").split(separator: ";") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    reader.problem(name, "entries are name=value, separated by ;")
                    continue
                }
                result.append((parts[0], parts[1]))
            }
            return result
        }
        func named(_ name: String) -> [String: URL] {
            var result: [String: URL] = [:]
            for (key, text) in pairs(name, reader.secret(name, required: false)) {
                if let u = url(name, text) { result[key] = u }
            }
            return result
        }
        var limits: [ChannelKind: ChannelLimit] = [:]
        let limitsText = reader.string("PROPDESK_NOTIFY_LIMITS", default: "sms=10/s,email=10/s,wecom=20/min,dingtalk=20/min")
        for pair in limitsText.split(separator: ",") {
            let parts = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let channel = ChannelKind(rawValue: parts[0]), parts[1] == "none" || ChannelLimit(parts[1]) != nil else {
                reader.problem("PROPDESK_NOTIFY_LIMITS", "entries are channel=count/window (20/min, 10/s, 100/h, 20/60s; a count of 1 to 1000) or channel=none, got \"\(pair)\"")
                continue
            }
            limits[channel] = ChannelLimit(parts[1])
        }
        let smtpURL = reader.secret("PROPDESK_SMTP_URL", required: false)
        let caFile = reader.optional("PROPDESK_SMTP_CA_FILE")
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            reader.problem("PROPDESK_SMTP_CA_FILE", "cannot read \"\(caFile)\"")
        }
        let allowPlainAuth = reader.bool("PROPDESK_SMTP_ALLOW_PLAIN_AUTH", default: false)
        var smtp: SMTPServer?
        if let smtpURL {
            smtp = URL(string: smtpURL).flatMap { SMTPServer($0, caFile: caFile) }
            if smtp == nil {
                reader.problem("PROPDESK_SMTP_URL", "must be smtps://host:465, smtp+starttls://host:587 or smtp://host:25 (user:password@ for AUTH), got \"\(Self.redacted(smtpURL))\"")
            } else if let s = smtp, s.security == .none, s.user != nil, !allowPlainAuth {
                reader.problem("PROPDESK_SMTP_URL", "has a user and password but no TLS: use smtps:// or smtp+starttls://, or set PROPDESK_SMTP_ALLOW_PLAIN_AUTH=true for a relay on this host")
            }
        }
        let dingtalkRobots = named("PROPDESK_DINGTALK_ROBOTS")
        let dingtalkSecrets = Dictionary(pairs("PROPDESK_DINGTALK_SECRETS", reader.secret("PROPDESK_DINGTALK_SECRETS", required: false))) { $1 }
        for name in dingtalkSecrets.keys where dingtalkRobots[name] == nil {
            reader.problem("PROPDESK_DINGTALK_SECRETS", "names a robot \"\(name)\" that PROPDESK_DINGTALK_ROBOTS does not")
        }
        let replyPath = reader.optional("PROPDESK_SMS_REPLY_ID")
        let wechat = WeChatSettings.read(&reader)
        var headers: [(String, String)] = []
        for pair in (reader.secret("PROPDESK_SMS_HEADERS", required: false) ?? "").split(separator: ";") where !pair.isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty { headers.append((parts[0], parts[1])) } else {
                reader.problem("PROPDESK_SMS_HEADERS", "entries are Name: value, separated by ;")
            }
        }
        let settings = NotifySettings(
            smtp: smtp, smtpFrom: reader.string("PROPDESK_SMTP_FROM", default: "propdesk@localhost"), smtpAllowPlainAuth: allowPlainAuth,
            webhooks: named("PROPDESK_WEBHOOKS"), wecomRobots: named("PROPDESK_WECOM_ROBOTS"),
            dingtalkRobots: dingtalkRobots, dingtalkSecrets: dingtalkSecrets,
            smsURL: url("PROPDESK_SMS_URL", reader.secret("PROPDESK_SMS_URL", required: false)),
            smsBody: reader.string("PROPDESK_SMS_BODY", default: #"{"to":"{{phone}}","text":"{{text}}"}"#),
            smsHeaders: headers, smsReplyID: replyPath.map { $0.split(separator: ".").map(String.init) },
            smsReceiptKey: reader.secret("PROPDESK_SMS_RECEIPT_KEY", required: false), wechat: wechat,
            consoleFile: reader.optional("PROPDESK_CONSOLE_FILE"),
            retry: RetryPolicy(base: .milliseconds(reader.int("PROPDESK_NOTIFY_RETRY_BASE_MS", default: 1000, range: 10...600_000)),
                               cap: .seconds(300),
                               maxAttempts: reader.int("PROPDESK_NOTIFY_MAX_ATTEMPTS", default: 5, range: 1...20)),
            limits: limits,
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

/// The WeChat service account (服务号) that residents follow: its AppID and AppSecret, the API's
/// base URL (a local stand-in in tests) and the template for each resident message.
struct WeChatSettings: Sendable {
    var appID: String
    var appSecret: String
    var api: URL
    var templates: [String: WeChatTemplates.Mapping]

    static func read(_ reader: inout Reader) -> WeChatSettings? {
        let appID = reader.optional("PROPDESK_WECHAT_APP_ID")
        let secret = reader.secret("PROPDESK_WECHAT_APP_SECRET", required: false)
        let apiText = reader.string("PROPDESK_WECHAT_API_URL", default: "https://api.weixin.qq.com")
        let api = URL(string: apiText).flatMap { ["http", "https"].contains($0.scheme ?? "") && $0.host != nil ? $0 : nil }
        if api == nil { reader.problem("PROPDESK_WECHAT_API_URL", "must be an http or https URL, got \"\(apiText)\"") }
        let text = reader.string("PROPDESK_WECHAT_TEMPLATES", default: "")
        guard let appID else {
            if secret != nil { reader.problem("PROPDESK_WECHAT_APP_ID", "is needed with PROPDESK_WECHAT_APP_SECRET") }
            return nil
        }
        guard let secret else {
            reader.problem("PROPDESK_WECHAT_APP_SECRET", "is needed with PROPDESK_WECHAT_APP_ID")
            return nil
        }
        let (templates, problems) = WeChatTemplates.parse(text)
        for problem in problems { reader.problem("PROPDESK_WECHAT_TEMPLATES", problem) }
        if templates.isEmpty { reader.problem("PROPDESK_WECHAT_TEMPLATES", "names no template: residents would get nothing on WeChat") }
        guard let api, problems.isEmpty else { return nil }
        return WeChatSettings(appID: appID, appSecret: secret, api: api, templates: templates)
    }
}
