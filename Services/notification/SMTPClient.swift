import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small SMTP client (RFC 5321): EHLO, AUTH PLAIN when the URL has credentials, MAIL, RCPT,
/// DATA, QUIT, on a plain connection. No STARTTLS: point it at a relay on the same host or
/// network (Postfix, an smarthost) for mail that leaves the site. Blocking sockets on a thread of
/// its own. The timeout bounds the whole session, not each exchange: a server that answers each
/// of its seven replies just in time still fails the attempt within the timeout, so a send never
/// outlives the delivery's lease (and is never taken for one cut off by a crash).
struct SMTPClient: Sendable {
    let server: URL
    let timeout: Duration

    struct Failure: Error {
        var reason: String
        /// A 5xx reply: the server refuses this message for good.
        var permanent: Bool
    }

    func send(from: String, to: String, message: String) async throws {
        let server = server
        let seconds = Int(timeout.components.seconds)
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            Thread {
                do {
                    try Self.session(server: server, timeout: seconds, from: from, to: to, message: message)
                    c.resume()
                } catch {
                    c.resume(throwing: error)
                }
            }.start()
        }
    }

    private static func session(server: URL, timeout: Int, from: String, to: String, message: String) throws {
        let connection = try Connection(host: server.host ?? "localhost", port: server.port ?? 25,
                                        deadline: ContinuousClock.now + .seconds(timeout))
        defer { connection.close() }
        try connection.expect(220)
        try connection.command("EHLO propdesk", expect: 250)
        if let user = server.user, let password = server.password {
            let token = Data("\u{0}\(user.removingPercentEncoding ?? user)\u{0}\(password.removingPercentEncoding ?? password)".utf8)
            try connection.command("AUTH PLAIN \(token.base64EncodedString())", expect: 235)
        }
        try connection.command("MAIL FROM:<\(from)>", expect: 250)
        try connection.command("RCPT TO:<\(to)>", expect: 250, 251)
        try connection.command("DATA", expect: 354)
        // Dot-stuffing: a line starting with "." gets another.
        let stuffed = message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
        try connection.command(stuffed + "\r\n.", expect: 250)
        try? connection.command("QUIT", expect: 221)
    }

    private final class Connection {
        let fd: Int32
        let deadline: ContinuousClock.Instant
        var buffer = [UInt8]()

        init(host: String, port: Int, deadline: ContinuousClock.Instant) throws {
            self.deadline = deadline
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
                throw Failure(reason: "cannot resolve \(host)", permanent: false)
            }
            defer { freeaddrinfo(list) }
            var connected: Int32 = -1
            var info: UnsafeMutablePointer<addrinfo>? = first
            while let a = info {
                let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
                if s >= 0 {
                    if (try? Self.arm(s, until: deadline)) != nil, connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                        connected = s
                        break
                    }
                    Glibc.close(s)
                }
                info = a.pointee.ai_next
            }
            guard connected >= 0 else { throw Failure(reason: "cannot connect to \(host):\(port)", permanent: false) }
            fd = connected
        }

        func close() { Glibc.close(fd) }

        /// Sets the socket's read and write timeouts to what is left of the session's time.
        static func arm(_ fd: Int32, until deadline: ContinuousClock.Instant) throws {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw Failure(reason: "timed out: the SMTP session took longer than its timeout", permanent: false) }
            let micros = max(1_000, left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000)
            var tv = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: suseconds_t(micros % 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        func command(_ line: String, expect codes: Int...) throws {
            let bytes = Array((line + "\r\n").utf8)
            var sent = 0
            while sent < bytes.count {
                try Self.arm(fd, until: deadline)
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw Failure(reason: "connection lost while writing", permanent: false) }
                sent += n
            }
            try expect(codes)
        }

        func expect(_ codes: Int...) throws { try expect(codes) }

        /// Reads one reply (its continuation lines too) and checks its code.
        private func expect(_ codes: [Int]) throws {
            while true {
                let line = try readLine()
                guard line.count >= 3, let code = Int(line.prefix(3)) else {
                    throw Failure(reason: "unreadable reply: \(line.prefix(80))", permanent: false)
                }
                if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
                guard codes.contains(code) else { throw Failure(reason: "server replied \(line.prefix(120))", permanent: code >= 500) }
                return
            }
        }

        private func readLine() throws -> String {
            while true {
                if let end = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[..<end], as: UTF8.self).trimmingCharacters(in: .newlines)
                    buffer.removeSubrange(...end)
                    return line
                }
                try Self.arm(fd, until: deadline)
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw Failure(reason: n == 0 ? "connection closed" : "timed out waiting for the server", permanent: false) }
                buffer += chunk[..<n]
            }
        }
    }
}
