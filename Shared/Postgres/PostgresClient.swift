import Foundation
import Logging
import Synchronization

/// A small pool of PostgreSQL connections, each owned by a thread of its own (libpq blocks).
///
/// Work is a synchronous closure that runs on a pool thread with that thread's connection:
/// `withConnection` for single statements, `withTransaction` for `BEGIN … COMMIT` that rolls back
/// when the closure throws. A broken connection is reopened on the next use, so the pool recovers
/// by itself after a server restart; the work that hit the break fails with a `.connection` error.
public final class PostgresClient: Sendable {
    public let configuration: PostgresConfiguration
    private let queue: JobQueue
    private let logger: Logger
    private let signals = CommitSignals()

    /// Starts `size` threads (default 4). Connections open lazily on first use.
    public init(configuration: PostgresConfiguration, size: Int = 4, logger: Logger = Logger(label: "propdesk.postgres")) {
        self.configuration = configuration
        self.logger = logger
        self.queue = JobQueue()
        for i in 0..<max(1, size) {
            let queue = self.queue
            let signals = self.signals
            let thread = Thread {
                let connection = PostgresConnection(configuration: configuration, signals: signals)
                while let job = queue.next() { job(connection) }
                connection.close()
            }
            thread.name = "postgres-\(i)"
            thread.start()
        }
    }

    deinit { queue.shutdown() }

    /// Stops the pool threads once queued work is done.
    public func shutdown() { queue.shutdown() }

    /// Runs `body` on a pool thread with its connection.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let accepted = queue.submit { connection in
                c.resume(with: Result { try body(connection) })
            }
            if !accepted { c.resume(throwing: PostgresError(kind: .closed, message: "PostgreSQL client is shut down")) }
        }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; any error rolls the transaction back and is rethrown.
    @discardableResult
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withConnection { connection in try connection.transaction(body) }
    }

    /// An instant a statement reads (the next due time) and the database's clock when it read it:
    /// `sql` returns one row of a timestamptz (NULL: nothing scheduled) and `clock_timestamp()`.
    /// Waits are measured on the database's clock, so replicas with skewed clocks agree.
    public func nextInstant(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> DatabaseInstant {
        let row = try await query(sql, parameters)[0]
        return DatabaseInstant(instant: try row.decode(0, as: Date?.self), now: try row.decode(1, as: Date.self))
    }

    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> [PostgresRow] {
        try await withConnection { try $0.query(sql, parameters) }
    }

    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> Int {
        try await withConnection { try $0.execute(sql, parameters) }
    }

    /// Signals for `channel` from this client's committed transactions
    /// (``PostgresConnection/signalAfterCommit(_:)``); several commits may coalesce into one.
    public func commitSignals(_ channel: String) -> AsyncStream<Void> {
        signals.subscribe(channel)
    }

    /// Fails with a message naming the (redacted) URL when the server cannot be reached.
    public func checkConnection() async throws {
        _ = try await query("SELECT 1")
    }

    /// Holds one pool thread and its connection for a sequence of steps, for work that must
    /// await something else between statements of one transaction (the outbox relay publishes
    /// while it holds row locks). Call ``Lease/release()`` when done: it rolls back a transaction
    /// left open and returns once the locks are gone.
    public func lease() async throws -> Lease {
        let lease = Lease()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            let accepted = queue.submit { connection in
                c.resume()
                lease.serve(connection)
            }
            if !accepted { c.resume(throwing: PostgresError(kind: .closed, message: "PostgreSQL client is shut down")) }
        }
        return lease
    }

    public final class Lease: Sendable {
        private let jobs = JobQueue()

        func serve(_ connection: PostgresConnection) {
            while let job = jobs.next() { job(connection) }
            Self.rollbackIfOpen(connection)
        }

        private static func rollbackIfOpen(_ connection: PostgresConnection) {
            if connection.inTransaction { try? connection.rollback() }
        }

        /// Runs `body` on the leased connection's thread.
        public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
                if !jobs.submit({ connection in c.resume(with: Result { try body(connection) }) }) {
                    c.resume(throwing: PostgresError(kind: .closed, message: "lease released"))
                }
            }
        }

        /// Rolls back a transaction left open, then gives the thread back to the pool.
        public func release() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                if !jobs.submit({ connection in
                    Self.rollbackIfOpen(connection)
                    c.resume()
                }) { c.resume() }
            }
            jobs.shutdown()
        }

        deinit { jobs.shutdown() }
    }
}

extension PostgresConnection {
    /// Starts a transaction by hand (for leases); prefer ``transaction(_:)``. The `BEGIN` is
    /// queued, not sent: it goes with the transaction's first statement.
    public func begin() throws {
        inTransaction = true
        try executeLater("BEGIN")
    }

    /// Sends what is queued and `COMMIT` in one round trip. A transaction that sent nothing
    /// costs nothing.
    public func commit() throws {
        inTransaction = false
        if onlyBeginIsQueued {
            dropQueued()
            transactionEnded(committed: true)
            return
        }
        do {
            try execute("COMMIT")  // what is queued goes ahead of it, in the same round trip
        } catch {
            transactionEnded(committed: false)
            throw error
        }
        transactionEnded(committed: true)
    }

    /// Drops what is queued; rolls back on the server only if the transaction reached it.
    public func rollback() throws {
        inTransaction = false
        transactionEnded(committed: false)
        let reachedServer = !beginIsQueued
        dropQueued()
        if reachedServer { try execute("ROLLBACK") }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` and rethrow if anything throws.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try begin()
        do {
            let value = try body(self)
            try commit()
            return value
        } catch {
            if isOpen {
                try? rollback()
            } else {
                inTransaction = false
                transactionEnded(committed: false)
                dropQueued()
            }
            throw error
        }
    }
}

/// In-process commit signals: subscribers per channel, each a stream that buffers one pending
/// signal, so a burst of commits wakes a subscriber once, and a signal is never lost.
final class CommitSignals: Sendable {
    private let subscribers = Mutex<[String: [UUID: AsyncStream<Void>.Continuation]]>([:])

    func subscribe(_ channel: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        subscribers.withLock { $0[channel, default: [:]][id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0[channel]?.removeValue(forKey: id) }
        }
        return stream
    }

    func signal(_ channels: Set<String>) {
        let targets = subscribers.withLock { s in channels.flatMap { s[$0].map { Array($0.values) } ?? [] } }
        for continuation in targets { continuation.yield() }
    }
}

/// A blocking FIFO of jobs for pool threads.
final class JobQueue: Sendable {
    typealias Job = @Sendable (PostgresConnection) -> Void
    private struct State {
        var jobs: [Job] = []
        var head = 0
        var closed = false
    }
    private let state = Mutex(State())
    private let condition = Condition()

    func submit(_ job: @escaping Job) -> Bool {
        let ok = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.jobs.append(job)
            return true
        }
        if ok { condition.signal() }
        return ok
    }

    /// Blocks until a job is available; nil once shut down and drained.
    func next() -> Job? {
        while true {
            let job = state.withLock { s -> Job?? in
                if s.head < s.jobs.count {
                    let job = s.jobs[s.head]
                    s.head += 1
                    if s.head == s.jobs.count {
                        s.jobs.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    return .some(job)
                }
                return s.closed ? .some(nil) : nil
            }
            if let job { return job }
            condition.wait()
        }
    }

    func shutdown() {
        state.withLock { $0.closed = true }
        condition.broadcast()
    }
}

/// A counting wake-up signal: a signal sent before the wait is not lost.
final class Condition: @unchecked Sendable {
    // `pending` is guarded by `lock`.
    private let lock = NSCondition()
    private var pending = 0

    func signal() {
        lock.lock()
        pending += 1
        lock.signal()
        lock.unlock()
    }

    func broadcast() {
        lock.lock()
        pending = Int.max / 2
        lock.broadcast()
        lock.unlock()
    }

    func wait() {
        lock.lock()
        while pending == 0 { lock.wait() }
        pending -= 1
        lock.unlock()
    }
}

/// An instant and the database's clock at the moment it was read (``PostgresClient/nextInstant(_:_:)``).
public struct DatabaseInstant: Sendable, Equatable {
    public var instant: Date?
    public var now: Date

    public init(instant: Date?, now: Date) {
        self.instant = instant
        self.now = now
    }

    /// How long until the instant, at most `cap` (also when there is none); zero if it passed.
    public func pause(atMost cap: Duration) -> Duration {
        guard let instant else { return cap }
        let seconds = instant.timeIntervalSince(now)
        if seconds <= 0 { return .zero }
        return min(cap, .milliseconds(Int64((seconds * 1000).rounded(.up))))
    }

    /// The database-clock instant `pause` from now: what a notification's due time is compared to.
    public func after(_ pause: Duration) -> Date {
        now.addingTimeInterval(Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
    }
}
