import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `count` Server-Sent Event streams over plain sockets, read by one thread with poll(2): what a
/// browser's EventSource receives, without a browser per page (the console's tests and bench).
public final class EventStreams: @unchecked Sendable {
    private var fds: [Int32] = []
    private var buffers: [[UInt8]]

    public init(host: String, port: Int, path: String, cookie: String, count: Int, headers: [String: String] = [:]) throws {
        buffers = Array(repeating: [], count: count)
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw StreamError("cannot connect an event stream: errno \(errno)") }
            let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
            let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nCookie: \(cookie)\r\nAccept: text/event-stream\r\n\(extra)\r\n"
            _ = request.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            fds.append(fd)
        }
    }

    /// Until every stream has said it is connected.
    public func waitConnected(timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var ready = Set<Int>()
        while ready.count < fds.count, Date() < deadline {
            pump(timeout: 100) { index, text in if text.contains(": connected") { ready.insert(index) } }
        }
        guard ready.count == fds.count else { throw StreamError("\(ready.count) of \(fds.count) event streams connected") }
        for i in buffers.indices { buffers[i] = [] }
    }

    /// Events read by ``read(until:event:)``.
    public private(set) var events = 0

    /// Reads until `done`, handing each event (its text up to the blank line) and when it came.
    public func read(until done: () -> Bool, event: (Int, String, Date) -> Void) {
        while !done() {
            pump(timeout: 50) { index, text in
                events += 1
                event(index, text, Date())
            }
        }
    }

    /// Reads what is there; hands each complete event (up to a blank line) to `event`.
    private func pump(timeout: Int32, _ event: (Int, String) -> Void) {
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&polls, nfds_t(polls.count), timeout) > 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 65536)
        for (i, p) in polls.enumerated() where p.revents & Int16(POLLIN) != 0 {
            let n = Glibc.read(p.fd, &chunk, chunk.count)
            guard n > 0 else { continue }
            buffers[i] += chunk[0..<n]
            while let end = Self.blankLine(buffers[i]) {
                event(i, String(decoding: buffers[i][0..<end], as: UTF8.self))
                buffers[i].removeFirst(end)
            }
        }
    }

    static func blankLine(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for i in 1..<bytes.count where bytes[i] == 10 && bytes[i - 1] == 10 { return i + 1 }
        return nil
    }

    public func close() { for fd in fds { Glibc.close(fd) } }

    public struct StreamError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
