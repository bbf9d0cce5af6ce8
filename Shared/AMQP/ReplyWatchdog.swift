import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Cuts a connection whose broker has stopped confirming publishes.
///
/// The connection thread stores when its oldest unconfirmed publish was sent. A thread of the
/// watchdog's own looks at that several times per limit and, once it is older than the limit,
/// shuts the socket down. That wakes the connection thread even when it is blocked inside
/// rabbitmq-c (a write to a broker that no longer reads); it then treats the connection as lost,
/// fails the waiting publishes as not confirmed and opens a new one. Heartbeats do not catch this:
/// RabbitMQ can keep one connection's heartbeats going while it reads nothing more from it.
final class ReplyWatchdog: Sendable {
    private struct Socket {
        var fd: Int32?
        var cut = false
    }

    let limitSeconds: Int
    private var limit: UInt64 { UInt64(limitSeconds) * 1_000_000_000 }
    private let socket = Mutex(Socket())
    private let oldest = Atomic<UInt64>(0)
    private let stopped = Atomic<Bool>(false)

    init(limitSeconds: Int) {
        self.limitSeconds = limitSeconds
    }

    func start(name: String) {
        let thread = Thread { [self] in
            // Several looks per limit, so a stall is cut within about a quarter of it.
            let step = useconds_t(min(1_000_000, max(50_000, limit / 4_000)))
            while !stopped.load(ordering: .relaxed) {
                usleep(step)
                check()
            }
        }
        thread.name = "amqp-watchdog-\(name)"
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The socket of a newly opened connection.
    func attach(_ fd: Int32) {
        socket.withLock { $0 = Socket(fd: fd) }
    }

    /// Before the connection thread closes the socket: the watchdog must not touch the descriptor
    /// afterwards (the number may be reused).
    func detach() {
        socket.withLock { $0.fd = nil }
        oldest.store(0, ordering: .relaxed)
    }

    /// When the oldest publish still waiting for its confirm was sent (uptime ns), or nil.
    func waiting(since sentAt: UInt64?) {
        oldest.store(sentAt ?? 0, ordering: .relaxed)
    }

    /// True once if the watchdog cut the current socket.
    func takeCut() -> Bool {
        socket.withLock { s in
            defer { s.cut = false }
            return s.cut
        }
    }

    private func check() {
        let since = oldest.load(ordering: .relaxed)
        guard since != 0, DispatchTime.now().uptimeNanoseconds &- since > limit else { return }
        socket.withLock { s in
            guard let fd = s.fd, !s.cut else { return }
            s.cut = true
            _ = shutdown(fd, Int32(SHUT_RDWR))
        }
    }
}
