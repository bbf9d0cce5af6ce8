import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOFoundationCompat
import Notify
import Postgres
import Synchronization

/// Why a send failed, and whether trying again could help.
struct SendFailure: Error, CustomStringConvertible {
    var reason: String
    /// A refusal that will not change (no such endpoint, a malformed address, HTTP 4xx other than
    /// 408/429): go to the next channel at once.
    var permanent: Bool
    var description: String { reason }
}

/// One way out. Every channel sits behind the same call; the delivery engine does the retries,
/// fallbacks and bookkeeping. A channel whose provider reports delivery later (SMS receipts)
/// returns the provider's id for the message.
protocol Channel: Sendable {
    func send(_ message: OutgoingMessage) async throws(SendFailure) -> String?
}

/// The configured channels, by kind.
struct Channels: Sendable {
    let byKind: [ChannelKind: any Channel]
    private let http: HTTPPoster
    private let smtp: SMTPClient?

    init(settings: NotifySettings, postgres: PostgresClient, logger: Logger) throws {
        let http = HTTPPoster(timeout: settings.httpTimeout, connectionsPerHost: settings.concurrency)
        self.http = http
        var channels: [ChannelKind: any Channel] = [
            .webhook: WebhookChannel(endpoints: settings.webhooks, http: http),
            .wecom: RobotChannel(name: "WeCom robot", endpoints: settings.wecomRobots, secrets: [:], http: http, format: ChannelFormats.wecom),
            .dingtalk: RobotChannel(name: "DingTalk robot", endpoints: settings.dingtalkRobots, secrets: settings.dingtalkSecrets, http: http,
                                    format: ChannelFormats.dingtalk),
            .console: ConsoleChannel(file: settings.consoleFile, logger: logger),
        ]
        if let url = settings.smsURL {
            channels[.sms] = SMSChannel(url: url, body: settings.smsBody, headers: settings.smsHeaders, replyID: settings.smsReplyID, http: http)
        }
        if let server = settings.smtp {
            let client = try SMTPClient(server: server, timeout: settings.httpTimeout, allowPlainAuth: settings.smtpAllowPlainAuth,
                                        maxIdle: settings.concurrency)
            smtp = client
            channels[.email] = EmailChannel(client: client, from: settings.smtpFrom)
        } else {
            smtp = nil
        }
        if let wechat = settings.wechat {
            channels[.wechat] = WeChatChannel(settings: wechat, http: http,
                                              tokens: SharedToken(postgres: postgres, key: "wechat:\(wechat.appID)", http: http, settings: wechat))
        }
        byKind = channels
    }

    /// Closes the HTTP connections and the open mail sessions.
    func shutdown() async {
        await smtp?.shutdown()
        await http.shutdown()
    }

    func send(_ message: OutgoingMessage) async throws(SendFailure) -> String? {
        guard let channel = byKind[message.channel] else {
            throw SendFailure(reason: "channel \(message.channel.rawValue) is not configured", permanent: true)
        }
        return try await channel.send(message)
    }
}

/// POSTs with a timeout over pooled keep-alive connections (AsyncHTTPClient); 2xx is success,
/// 408/429/5xx and transport errors are worth retrying. ``shutdown()`` closes the pool.
struct HTTPPoster: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    init(timeout: Duration, connectionsPerHost: Int) {
        let timeout = TimeAmount.seconds(timeout.components.seconds)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        // A refused connection fails the send at once: the delivery engine retries with its own
        // backoff and then falls back, so a dead endpoint costs seconds, not attempts × timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: timeout, read: timeout)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    func post(_ url: URL, body: Data, contentType: String = "application/json; charset=utf-8",
              headers: [(String, String)] = []) async throws(SendFailure) -> Data {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        request.headers.add(name: "Content-Type", value: contentType)
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let status: UInt
        let reply: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            reply = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw SendFailure(reason: "\(url.host ?? "?"): \(error)", permanent: false)
        }
        guard (200..<300).contains(status) else {
            let retry = status == 408 || status == 429 || status >= 500
            throw SendFailure(reason: "\(url.host ?? "?") answered HTTP \(status)", permanent: !retry)
        }
        return Data(buffer: reply)
    }
}

/// The generic JSON webhook; `Idempotency-Key` carries the dedupe key.
struct WebhookChannel: Channel {
    let endpoints: [String: URL]
    let http: HTTPPoster

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        guard let url = endpoints[m.address] else {
            throw SendFailure(reason: "no webhook named \(m.address) in PROPDESK_WEBHOOKS", permanent: true)
        }
        _ = try await http.post(url, body: ChannelFormats.webhook(m), headers: [("Idempotency-Key", m.dedupeKey)])
        return nil
    }
}

/// WeCom and DingTalk group robots: the reply's errcode decides. A DingTalk robot with a secret
/// (加签) gets its URL signed for each send (``DingTalkSigning``); DingTalk refuses a wrong
/// signature (310000), a permanent failure.
struct RobotChannel: Channel {
    let name: String
    let endpoints: [String: URL]
    let secrets: [String: String]
    let http: HTTPPoster
    let format: @Sendable (OutgoingMessage) -> Data

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        guard var url = endpoints[m.address] else {
            throw SendFailure(reason: "no \(name) named \(m.address)", permanent: true)
        }
        if let secret = secrets[m.address] { url = DingTalkSigning.signed(url, secret: secret, at: Date()) }
        let reply = try await http.post(url, body: format(m))
        if let error = ChannelFormats.robotError(reply) {
            // The robots' rate limit (45009 on WeCom, 130101 on DingTalk) passes; other codes do not.
            let transient = error.contains("45009") || error.contains("130101")
            throw SendFailure(reason: "\(name): \(error)", permanent: !transient)
        }
        return nil
    }
}

/// An SMS gateway over HTTP with a configurable request body. With `PROPDESK_SMS_REPLY_ID` the
/// gateway's id for the message is read from its reply, for the delivery receipt that names it.
struct SMSChannel: Channel {
    let url: URL
    let body: String
    let headers: [(String, String)]
    let replyID: [String]?
    let http: HTTPPoster

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        let digits = m.address.filter(\.isNumber)
        guard digits.count >= 5 else { throw SendFailure(reason: "not a phone number", permanent: true) }
        let text = ChannelFormats.sms(template: body, phone: m.address, text: m.text)
        let isJSON = body.trimmingCharacters(in: .whitespaces).hasPrefix("{")
        let reply = try await http.post(url, body: Data(text.utf8),
                                        contentType: isJSON ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded",
                                        headers: headers)
        return replyID.flatMap { ChannelFormats.value(at: $0, in: reply) }
    }
}

/// WeChat service-account template messages to a resident's OpenID (``WeChatTemplates``). The
/// access token is one for every replica (``SharedToken``); a reply that says it is invalid or
/// expired gets one new token and one more try.
struct WeChatChannel: Channel {
    let settings: WeChatSettings
    let http: HTTPPoster
    let tokens: SharedToken

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        guard let mapping = settings.templates[m.template] else {
            throw SendFailure(reason: "WeChat: no template for \(m.template) in PROPDESK_WECHAT_TEMPLATES", permanent: true)
        }
        let body = WeChatTemplates.body(openID: m.address, mapping: mapping, facts: m.facts)
        var token = try await tokens.current()
        var renewed = false
        while true {
            var parts = URLComponents(url: settings.api.appendingPathComponent("cgi-bin/message/template/send"), resolvingAgainstBaseURL: false)
            parts?.queryItems = [URLQueryItem(name: "access_token", value: token)]
            guard let url = parts?.url else { throw SendFailure(reason: "WeChat: bad API URL", permanent: true) }
            switch WeChatTemplates.outcome(try await http.post(url, body: body)) {
            case .sent:
                return nil
            case .invalidToken where !renewed:
                renewed = true
                token = try await tokens.replace(token)
            case .invalidToken(let why), .busy(let why):
                throw SendFailure(reason: "WeChat: \(why)", permanent: false)
            case .refused(let why):
                throw SendFailure(reason: "WeChat: \(why)", permanent: true)
            }
        }
    }
}

/// A provider's access token, one for all replicas (table `channel_tokens`): the first replica
/// that needs one fetches it while the others wait and then read it; it is fetched anew 5 minutes
/// before it expires (when WeChat's stable token changes); when the provider refuses it, it is
/// fetched again once, unless another replica has put a newer one there already. Each process
/// keeps it for up to a minute, to spare the database a read per message.
final class SharedToken: Sendable {
    let postgres: PostgresClient
    let key: String
    let http: HTTPPoster
    let settings: WeChatSettings
    private let cached = Mutex<(token: String, until: Date)?>(nil)

    init(postgres: PostgresClient, key: String, http: HTTPPoster, settings: WeChatSettings) {
        self.postgres = postgres
        self.key = key
        self.http = http
        self.settings = settings
    }

    func current() async throws(SendFailure) -> String {
        if let c = cached.withLock({ $0 }), c.until > Date() { return c.token }
        return try await load(refusing: nil)
    }

    /// The provider refused `stale`.
    func replace(_ stale: String) async throws(SendFailure) -> String {
        cached.withLock { $0 = nil }
        return try await load(refusing: stale)
    }

    private func load(refusing stale: String?) async throws(SendFailure) -> String {
        let deadline = ContinuousClock.now + .nanoseconds(http.timeout.nanoseconds) + .seconds(5)
        while ContinuousClock.now < deadline {
            do {
                if let row = try await postgres.query("""
                    SELECT token, expires_at FROM channel_tokens
                    WHERE key = $1 AND token <> '' AND token IS DISTINCT FROM $2 AND expires_at > clock_timestamp() + interval '5 minutes'
                    """, [key, stale]).first {
                    let token: String = try row.decode(0)
                    let expires: Date = try row.decode(1)
                    cached.withLock { $0 = (token, min(expires.addingTimeInterval(-300), Date().addingTimeInterval(60))) }
                    return token
                }
                // Become the one that fetches, with a 30-second lease: a fetcher that died is replaced.
                // Only while there is still no usable token: a replica that read before another
                // finished fetching must not fetch a second time, but read what is there.
                let won = try await postgres.query("""
                    INSERT INTO channel_tokens (key, token, expires_at, refreshing_until)
                    VALUES ($1, '', '-infinity', clock_timestamp() + interval '30 seconds')
                    ON CONFLICT (key) DO UPDATE SET refreshing_until = clock_timestamp() + interval '30 seconds'
                    WHERE (channel_tokens.refreshing_until IS NULL OR channel_tokens.refreshing_until < clock_timestamp())
                      AND NOT (channel_tokens.token <> '' AND channel_tokens.token IS DISTINCT FROM $2
                               AND channel_tokens.expires_at > clock_timestamp() + interval '5 minutes')
                    RETURNING 1
                    """, [key, stale])
                if !won.isEmpty { return try await fetch() }
            } catch let failure as SendFailure {
                throw failure
            } catch {
                throw SendFailure(reason: "WeChat token store: \(error)", permanent: false)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw SendFailure(reason: "WeChat: no access token yet (another replica is fetching it)", permanent: false)
    }

    /// `POST /cgi-bin/stable_token` (getStableAccessToken, normal mode), stored for everyone.
    private func fetch() async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: [
            "grant_type": "client_credential", "appid": settings.appID, "secret": settings.appSecret, "force_refresh": false,
        ] as [String: Any])
        // A fetch that fails gives up the lease at once: the next send tries again.
        func release() async { _ = try? await postgres.execute("UPDATE channel_tokens SET refreshing_until = NULL WHERE key = $1", [key]) }
        let object: [String: Any]
        do {
            let reply = try await http.post(settings.api.appendingPathComponent("cgi-bin/stable_token"), body: body)
            object = (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any] ?? [:]
        } catch {
            await release()
            throw error
        }
        guard let token = object["access_token"] as? String, !token.isEmpty, let expiresIn = object["expires_in"] as? Int else {
            await release()
            // A wrong AppID or AppSecret (40013, 40125) does not get better by trying again.
            throw SendFailure(reason: "WeChat token: errcode \(object["errcode"] ?? "?"): \(object["errmsg"] ?? "unreadable reply")", permanent: true)
        }
        _ = try await postgres.execute("""
            UPDATE channel_tokens SET token = $2, expires_at = clock_timestamp() + make_interval(secs => $3::float8),
                   fetched_at = clock_timestamp(), refreshing_until = NULL
            WHERE key = $1
            """, [key, token, expiresIn])
        cached.withLock { $0 = (token, Date().addingTimeInterval(min(60, Double(expiresIn - 300)))) }
        return token
    }
}

/// For local development: JSON lines in a file, or the log.
struct ConsoleChannel: Channel {
    let file: String?
    let logger: Logger

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        guard let file else {
            logger.notice("message", metadata: ["to": "\(m.recipient)", "subject": "\(m.subject)", "delivery": "\(m.dedupeKey)"])
            return nil
        }
        var line = ChannelFormats.webhook(m)
        line.append(0x0A)
        // O_APPEND: each line lands whole at the end, even with several senders (this process's
        // concurrent sends, or replicas sharing the file). Seeking to the end and then writing
        // let two sends at the same offset overwrite each other.
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SendFailure(reason: "console file \(file): \(String(cString: strerror(errno)))", permanent: false) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw SendFailure(reason: "console file \(file): \(written < 0 ? String(cString: strerror(errno)) : "short write")", permanent: false)
        }
        return nil
    }
}

/// E-mail through an SMTP server (``SMTPClient``: TLS, AUTH, reused sessions).
struct EmailChannel: Channel {
    let client: SMTPClient
    let from: String

    func send(_ m: OutgoingMessage) async throws(SendFailure) -> String? {
        guard m.address.contains("@"), !m.address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) else {
            throw SendFailure(reason: "not an e-mail address", permanent: true)
        }
        do {
            try await client.send(from: from, to: m.address, message: ChannelFormats.email(m, from: from))
        } catch {
            throw SendFailure(reason: "SMTP: \(error.reason)", permanent: error.permanent)
        }
        return nil
    }
}
