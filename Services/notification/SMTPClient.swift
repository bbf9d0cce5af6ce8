import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Where and how mail goes: `PROPDESK_SMTP_URL`.
/// - `smtps://user:password@host:465`: TLS from the first byte (implicit TLS, RFC 8314);
/// - `smtp+starttls://user:password@host:587`: plain, then STARTTLS before anything else; a server
///   that does not offer it is refused, never used in the clear;
/// - `smtp://host:25`: no TLS, for a relay on this host or network. AUTH over it only with
///   `PROPDESK_SMTP_ALLOW_PLAIN_AUTH=true`.
struct SMTPServer: Sendable {
    enum Security: String, Sendable { case none = "smtp", startTLS = "smtp+starttls", implicitTLS = "smtps" }

    var host: String
    var port: Int
    var security: Security
    var user: String?
    var password: String?
    /// PEM file of a private CA, trusted besides the system's store.
    var caFile: String?

    static let schemes = ["smtp", "smtp+starttls", "smtps"]

    init?(_ url: URL, caFile: String?) {
        guard let scheme = url.scheme.flatMap(Security.init(rawValue:)), let host = url.host, !host.isEmpty else { return nil }
        self.host = host
        security = scheme
        port = url.port ?? (scheme == .implicitTLS ? 465 : scheme == .startTLS ? 587 : 25)
        user = url.user.map { $0.removingPercentEncoding ?? $0 }
        password = url.password.map { $0.removingPercentEncoding ?? $0 }
        self.caFile = caFile
    }
}

/// An SMTP client (RFC 5321) on SwiftNIO: EHLO, STARTTLS (RFC 3207) or implicit TLS through
/// swift-nio-ssl with the system trust store (and a private CA if set), AUTH PLAIN or LOGIN only
/// over TLS unless plain AUTH is allowed, then MAIL, RCPT, DATA. Sessions stay open for the next
/// message (connection reuse) and are closed after `idleTimeout`.
///
/// Each message's send is bounded by `timeout` as a whole (connect, handshake and every reply):
/// a server that answers each step just in time still fails the attempt within the timeout, so a
/// send never outlives the delivery's lease. A failure before DATA on a reused session (the server
/// closed it while idle) is tried once more on a new one: nothing was sent.
final class SMTPClient: Sendable {
    let server: SMTPServer
    let timeout: Duration
    let allowPlainAuth: Bool
    private let tls: NIOSSLContext?
    private let idle = Mutex<[Session]>([])
    private let maxIdle: Int
    static let idleTimeout: Duration = .seconds(30)

    struct Failure: Error, CustomStringConvertible {
        var reason: String
        /// A 5xx reply, or a server that cannot do what is required: refused for good.
        var permanent: Bool
        var description: String { reason }
    }

    init(server: SMTPServer, timeout: Duration, allowPlainAuth: Bool, maxIdle: Int) throws {
        self.server = server
        self.timeout = timeout
        self.allowPlainAuth = allowPlainAuth
        self.maxIdle = maxIdle
        if server.security == .none {
            tls = nil
        } else {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let ca = server.caFile { configuration.additionalTrustRoots = [.file(ca)] }
            tls = try NIOSSLContext(configuration: configuration)
        }
    }

    /// Sends one message; `message` is the RFC 5322 text with CRLF line ends.
    func send(from: String, to: String, message: String) async throws(Failure) {
        let deadline = ContinuousClock.now + timeout
        if let session = takeIdle() {
            do {
                try await transaction(on: session, from: from, to: to, message: message, deadline: deadline)
                keep(session)
                return
            } catch is Retry {
                session.close()   // the server let the idle session go before anything was sent: a new one
            } catch {
                session.close()
                throw Self.failure(error)
            }
        }
        let session: Session
        do {
            session = try await open(deadline: deadline)
        } catch {
            throw Self.failure(error)
        }
        do {
            try await transaction(on: session, from: from, to: to, message: message, deadline: deadline)
            keep(session)
        } catch {
            session.close()
            throw Self.failure(error)
        }
    }

    /// Closes the idle sessions (QUIT first).
    func shutdown() async {
        let sessions = idle.withLock { all in
            defer { all.removeAll() }
            return all
        }
        for session in sessions {
            _ = try? await session.command("QUIT", expect: [221], deadline: .now + .seconds(2))
            session.close()
        }
    }

    private static func failure(_ error: any Error) -> Failure {
        if let failure = error as? Failure { return failure }
        if let retry = error as? Retry { return retry.failure }
        return Failure(reason: describe(error), permanent: false)
    }

    /// TLS errors in words an operator can act on.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "TLS: the server's certificate is not trusted (certificate verify failed); set PROPDESK_SMTP_CA_FILE for a private CA"
        }
        if let ssl = error as? NIOSSLError { return "TLS: \(ssl)" }
        if let extra = error as? NIOSSLExtraError { return "TLS: \(extra)" }
        return text
    }

    private func takeIdle() -> Session? {
        idle.withLock { all in
            let now = ContinuousClock.now
            while let last = all.popLast() {
                if last.idleSince.duration(to: now) < Self.idleTimeout, last.channel.isActive { return last }
                last.close()
            }
            return nil
        }
    }

    private func keep(_ session: Session) {
        session.idleSince = .now
        let keep = idle.withLock { all in
            guard all.count < maxIdle else { return false }
            all.append(session)
            return true
        }
        if !keep { session.close() }
    }

    /// A failure that happened before the server took anything, on a reused session.
    private struct Retry: Error { var failure: Failure }

    private func transaction(on session: Session, from: String, to: String, message: String,
                             deadline: ContinuousClock.Instant) async throws {
        do {
            try await session.command("MAIL FROM:<\(from)>", expect: [250], deadline: deadline)
        } catch let failure as Failure where session.reused && !failure.permanent {
            throw Retry(failure: failure)
        }
        do {
            try await session.command("RCPT TO:<\(to)>", expect: [250, 251], deadline: deadline)
            try await session.command("DATA", expect: [354], deadline: deadline)
        } catch let failure as Failure {
            // The transaction is abandoned; a session that still answers is kept clean for the next.
            _ = try? await session.command("RSET", expect: [250], deadline: deadline)
            throw failure
        }
        // Dot-stuffing: a line starting with "." gets another.
        let stuffed = message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
        try await session.command(stuffed + "\r\n.", expect: [250], deadline: deadline)
        session.reused = true
    }

    /// Connects, greets, secures and signs in.
    private func open(deadline: ContinuousClock.Instant) async throws -> Session {
        let server = server
        let tls = tls
        let handler = ReplyHandler()
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw Failure(reason: "timed out before connecting", permanent: false) }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(left.components.seconds) * 1_000_000_000 + left.components.attoseconds / 1_000_000_000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if server.security == .implicitTLS, let tls {
                        try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(tls, host: server.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: any NIOCore.Channel
        do {
            channel = try await bootstrap.connect(host: server.host, port: server.port).get()
        } catch {
            throw Failure(reason: "cannot connect to \(server.host):\(server.port): \(Self.describe(error))", permanent: false)
        }
        let session = Session(channel: channel, handler: handler)
        do {
            try await session.greeting(deadline: deadline)
            var features = try await session.ehlo(deadline: deadline)
            if server.security == .startTLS, let tls {
                guard features.contains("STARTTLS") else {
                    throw Failure(reason: "the server does not offer STARTTLS; mail is not sent in the clear (use smtps:// for port 465)",
                                  permanent: false)
                }
                try await session.command("STARTTLS", expect: [220], deadline: deadline)
                let host = server.host
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(tls, host: host), position: .first)
                }.get()
                features = try await session.ehlo(deadline: deadline)
            }
            if let user = server.user, let password = server.password {
                guard server.security != .none || allowPlainAuth else {
                    throw Failure(reason: "AUTH without TLS is not allowed (PROPDESK_SMTP_ALLOW_PLAIN_AUTH)", permanent: true)
                }
                try await session.authenticate(user: user, password: password, features: features, deadline: deadline)
            }
        } catch {
            session.close()
            throw error
        }
        return session
    }

    private static func tlsHandler(_ context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        // An IP address is checked against the certificate's IP names; it cannot be an SNI name.
        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : host)
    }

    /// One open connection. Used by one send at a time (taken from the pool, then put back).
    final class Session: @unchecked Sendable {
        let channel: any NIOCore.Channel
        let handler: ReplyHandler
        var idleSince = ContinuousClock.now
        /// It carried a message already: a failure at the next MAIL may be the server's idle close.
        var reused = false

        init(channel: any NIOCore.Channel, handler: ReplyHandler) {
            self.channel = channel
            self.handler = handler
        }

        func close() { channel.close(promise: nil) }

        func greeting(deadline: ContinuousClock.Instant) async throws {
            try Self.check(try await handler.next(on: channel, write: nil, deadline: deadline), [220])
        }

        /// EHLO; returns the extensions the server offers, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`).
        func ehlo(deadline: ContinuousClock.Instant) async throws -> [String] {
            let reply = try await command("EHLO propdesk", expect: [250], deadline: deadline)
            return reply.lines.dropFirst().map { $0.uppercased() }
        }

        func authenticate(user: String, password: String, features: [String], deadline: ContinuousClock.Instant) async throws {
            let mechanisms = Set(features.filter { $0.hasPrefix("AUTH") }.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "=" }).dropFirst().map(String.init) })
            if mechanisms.contains("PLAIN") {
                let token = Data("\u{0}\(user)\u{0}\(password)".utf8).base64EncodedString()
                try await command("AUTH PLAIN \(token)", expect: [235], deadline: deadline)
            } else if mechanisms.contains("LOGIN") {
                try await command("AUTH LOGIN", expect: [334], deadline: deadline)
                try await command(Data(user.utf8).base64EncodedString(), expect: [334], deadline: deadline)
                try await command(Data(password.utf8).base64EncodedString(), expect: [235], deadline: deadline)
            } else {
                throw Failure(reason: "the server offers neither AUTH PLAIN nor AUTH LOGIN", permanent: true)
            }
        }

        @discardableResult
        func command(_ line: String, expect codes: [Int], deadline: ContinuousClock.Instant) async throws -> Reply {
            var buffer = channel.allocator.buffer(capacity: line.utf8.count + 2)
            buffer.writeString(line)
            buffer.writeString("\r\n")
            let reply = try await handler.next(on: channel, write: buffer, deadline: deadline)
            try Self.check(reply, codes)
            return reply
        }

        private static func check(_ reply: Reply, _ codes: [Int]) throws {
            guard codes.contains(reply.code) else {
                throw Failure(reason: "server replied \(reply.code) \(reply.lines.first?.prefix(120) ?? "")", permanent: reply.code >= 500)
            }
        }
    }

    /// A reply: its code and its lines' text.
    struct Reply: Sendable {
        var code: Int
        var lines: [String]
    }

    /// Reads replies (continuation lines too) and hands each to the command waiting for it, in
    /// order. A reply nobody waits for yet (the greeting, read before its waiter came) is kept.
    /// A lost connection or a TLS error fails whoever waits, with the reason.
    final class ReplyHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer

        /// Touched on the channel's event loop only.
        private var waiters: [EventLoopPromise<Reply>] = []
        private var ready: [Result<Reply, any Error>] = []
        private var pending = ByteBuffer()
        private var lines: [String] = []
        private var closed: (any Error)?

        /// Writes `bytes` (if any) and waits for the next reply, at most until `deadline`.
        func next(on channel: any NIOCore.Channel, write bytes: ByteBuffer?, deadline: ContinuousClock.Instant) async throws -> Reply {
            let loop = channel.eventLoop
            let promise = loop.makePromise(of: Reply.self)
            let left = ContinuousClock.now.duration(to: deadline)
            loop.execute {
                if let result = self.ready.first {
                    self.ready.removeFirst()
                    promise.completeWith(result)
                } else if let closed = self.closed {
                    promise.fail(closed)
                } else {
                    self.waiters.append(promise)
                }
                if let bytes { channel.writeAndFlush(bytes, promise: nil) }
            }
            let timer = loop.scheduleTask(in: .nanoseconds(max(1, Int64(left.components.seconds) * 1_000_000_000 + left.components.attoseconds / 1_000_000_000))) {
                promise.fail(Failure(reason: "timed out: the SMTP session took longer than its timeout", permanent: false))
                channel.close(promise: nil)
            }
            defer { timer.cancel() }
            return try await promise.futureResult.get()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            pending.writeBuffer(&bytes)
            while let end = pending.readableBytesView.firstIndex(of: 0x0A) {
                let length = end - pending.readerIndex + 1
                guard let raw = pending.readString(length: length) else { break }
                let line = raw.trimmingCharacters(in: .newlines)
                guard line.count >= 3, let code = Int(line.prefix(3)) else {
                    deliver(.failure(Failure(reason: "unreadable reply: \(line.prefix(80))", permanent: false)))
                    continue
                }
                lines.append(line.count > 4 ? String(line.dropFirst(4)) : "")
                if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
                deliver(.success(Reply(code: code, lines: lines)))
                lines = []
            }
            pending.discardReadBytes()
        }

        private func deliver(_ result: Result<Reply, any Error>) {
            if waiters.isEmpty { ready.append(result) } else { waiters.removeFirst().completeWith(result) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(Failure(reason: SMTPClient.describe(error), permanent: false))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(Failure(reason: "connection closed by the server", permanent: false))
            context.fireChannelInactive()
        }

        private func fail(_ error: Failure) {
            if closed == nil { closed = error }
            let all = waiters
            waiters = []
            for waiter in all { waiter.fail(closed ?? error) }
        }
    }
}
