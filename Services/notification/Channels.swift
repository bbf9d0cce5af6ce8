import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import Notify

/// Why a send failed, and whether trying again could help.
struct SendFailure: Error, CustomStringConvertible {
    var reason: String
    /// A refusal that will not change (no such endpoint, a malformed address, HTTP 4xx other than
    /// 408/429): go to the next channel at once.
    var permanent: Bool
    var description: String { reason }
}

/// One way out. Every channel sits behind the same call; the delivery engine does the retries,
/// fallbacks and bookkeeping.
protocol Channel: Sendable {
    func send(_ message: OutgoingMessage) async throws(SendFailure)
}

/// The configured channels, by kind.
struct Channels: Sendable {
    let byKind: [ChannelKind: any Channel]
    private let http: HTTPPoster

    init(settings: NotifySettings, logger: Logger) {
        let http = HTTPPoster(timeout: settings.httpTimeout, connectionsPerHost: settings.concurrency)
        self.http = http
        var channels: [ChannelKind: any Channel] = [
            .webhook: WebhookChannel(endpoints: settings.webhooks, http: http),
            .wecom: RobotChannel(name: "WeCom robot", endpoints: settings.wecomRobots, http: http, format: ChannelFormats.wecom),
            .dingtalk: RobotChannel(name: "DingTalk robot", endpoints: settings.dingtalkRobots, http: http, format: ChannelFormats.dingtalk),
            .console: ConsoleChannel(file: settings.consoleFile, logger: logger),
        ]
        if let url = settings.smsURL {
            channels[.sms] = SMSChannel(url: url, body: settings.smsBody, headers: settings.smsHeaders, http: http)
        }
        if let url = settings.smtp {
            channels[.email] = EmailChannel(server: url, from: settings.smtpFrom, timeout: settings.httpTimeout)
        }
        byKind = channels
    }

    /// Closes the HTTP connections.
    func shutdown() async { await http.shutdown() }

    func send(_ message: OutgoingMessage) async throws(SendFailure) {
        guard let channel = byKind[message.channel] else {
            throw SendFailure(reason: "channel \(message.channel.rawValue) is not configured", permanent: true)
        }
        try await channel.send(message)
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

    func send(_ m: OutgoingMessage) async throws(SendFailure) {
        guard let url = endpoints[m.address] else {
            throw SendFailure(reason: "no webhook named \(m.address) in PROPDESK_WEBHOOKS", permanent: true)
        }
        _ = try await http.post(url, body: ChannelFormats.webhook(m), headers: [("Idempotency-Key", m.dedupeKey)])
    }
}

/// WeCom and DingTalk group robots: the reply's errcode decides.
struct RobotChannel: Channel {
    let name: String
    let endpoints: [String: URL]
    let http: HTTPPoster
    let format: @Sendable (OutgoingMessage) -> Data

    func send(_ m: OutgoingMessage) async throws(SendFailure) {
        guard let url = endpoints[m.address] else {
            throw SendFailure(reason: "no \(name) named \(m.address)", permanent: true)
        }
        let reply = try await http.post(url, body: format(m))
        if let error = ChannelFormats.robotError(reply) {
            // The robots' rate limit (45009 on WeCom, 130101 on DingTalk) passes; other codes do not.
            let transient = error.contains("45009") || error.contains("130101")
            throw SendFailure(reason: "\(name): \(error)", permanent: !transient)
        }
    }
}

/// An SMS gateway over HTTP with a configurable request body.
struct SMSChannel: Channel {
    let url: URL
    let body: String
    let headers: [(String, String)]
    let http: HTTPPoster

    func send(_ m: OutgoingMessage) async throws(SendFailure) {
        let digits = m.address.filter(\.isNumber)
        guard digits.count >= 5 else { throw SendFailure(reason: "not a phone number", permanent: true) }
        let text = ChannelFormats.sms(template: body, phone: m.address, text: m.text)
        let isJSON = body.trimmingCharacters(in: .whitespaces).hasPrefix("{")
        _ = try await http.post(url, body: Data(text.utf8),
                                contentType: isJSON ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded",
                                headers: headers)
    }
}

/// For local development: JSON lines in a file, or the log.
struct ConsoleChannel: Channel {
    let file: String?
    let logger: Logger

    func send(_ m: OutgoingMessage) async throws(SendFailure) {
        guard let file else {
            logger.notice("message", metadata: ["to": "\(m.recipient)", "subject": "\(m.subject)", "delivery": "\(m.dedupeKey)"])
            return
        }
        var line = ChannelFormats.webhook(m)
        line.append(0x0A)
        do {
            if !FileManager.default.fileExists(atPath: file) { _ = FileManager.default.createFile(atPath: file, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        } catch {
            throw SendFailure(reason: "console file \(file): \(error)", permanent: false)
        }
    }
}

/// E-mail through an SMTP server.
struct EmailChannel: Channel {
    let server: URL
    let from: String
    let timeout: Duration

    func send(_ m: OutgoingMessage) async throws(SendFailure) {
        guard m.address.contains("@"), !m.address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) else {
            throw SendFailure(reason: "not an e-mail address", permanent: true)
        }
        let message = ChannelFormats.email(m, from: from)
        let client = SMTPClient(server: server, timeout: timeout)
        do {
            try await client.send(from: from, to: m.address, message: message)
        } catch let error as SMTPClient.Failure {
            throw SendFailure(reason: "SMTP: \(error.reason)", permanent: error.permanent)
        } catch {
            throw SendFailure(reason: "SMTP: \(error)", permanent: false)
        }
    }
}
