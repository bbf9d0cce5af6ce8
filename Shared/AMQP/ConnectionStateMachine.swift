/// The connection's life as a pure state machine: connect, lose, back off, recover, close.
///
/// The I/O loop calls an event method and performs the action it returns; nothing here touches a
/// socket or a clock, so every path is unit-tested in microseconds.
///
/// - The first connection gets `initialAttempts` tries; if all fail the caller is told, naming the
///   setting, so a wrong address fails at start rather than looping silently.
/// - Once connected, a lost connection is retried for as long as the connection is open, with
///   exponential backoff (100 ms doubling to 5 s by default) and full jitter.
public struct ConnectionStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case idle
        case connecting(attempt: Int)
        case connected(generation: Int)
        case waiting(attempt: Int)
        case closed
    }

    public enum Action: Sendable, Equatable {
        /// Open a socket, log in, open channels.
        case connect
        /// Connected: re-declare the recorded topology and resume consumers; `recovered` is false
        /// for the first connection.
        case declareAndResume(generation: Int, recovered: Bool)
        /// Sleep this long, then `retryTimerFired()`.
        case wait(milliseconds: Int)
        /// Give up on the first connection and report the error to whoever called `connect()`.
        case fail
        /// Fail every unconfirmed publish and stale delivery, then wait before reconnecting.
        case failInFlightThenWait(milliseconds: Int)
        case none
    }

    public struct Backoff: Sendable, Equatable {
        public var initialMilliseconds: Int
        public var maximumMilliseconds: Int
        public init(initialMilliseconds: Int = 100, maximumMilliseconds: Int = 5_000) {
            self.initialMilliseconds = initialMilliseconds
            self.maximumMilliseconds = maximumMilliseconds
        }
        /// Exponential cap for `attempt` (0-based), scaled by `jitter` in 0...1 (full jitter,
        /// but never below half the cap so a recovering broker is not hammered).
        public func delay(attempt: Int, jitter: Double) -> Int {
            let cap = min(maximumMilliseconds, initialMilliseconds << min(attempt, 20))
            return cap / 2 + Int(Double(cap / 2) * min(max(jitter, 0), 1))
        }
    }

    public private(set) var state: State = .idle
    public private(set) var generation = 0
    public let initialAttempts: Int
    public let backoff: Backoff

    public init(initialAttempts: Int = 3, backoff: Backoff = Backoff()) {
        self.initialAttempts = max(1, initialAttempts)
        self.backoff = backoff
    }

    public var isConnected: Bool { if case .connected = state { true } else { false } }

    public mutating func start() -> Action {
        guard case .idle = state else { return .none }
        state = .connecting(attempt: 0)
        return .connect
    }

    public mutating func connectSucceeded() -> Action {
        guard case .connecting = state else { return .none }
        generation += 1
        state = .connected(generation: generation)
        return .declareAndResume(generation: generation, recovered: generation > 1)
    }

    public mutating func connectFailed(jitter: Double) -> Action {
        guard case .connecting(let attempt) = state else { return .none }
        if generation == 0 && attempt + 1 >= initialAttempts {
            state = .closed
            return .fail
        }
        state = .waiting(attempt: attempt + 1)
        return .wait(milliseconds: backoff.delay(attempt: attempt, jitter: jitter))
    }

    public mutating func retryTimerFired() -> Action {
        guard case .waiting(let attempt) = state else { return .none }
        state = .connecting(attempt: attempt)
        return .connect
    }

    public mutating func connectionLost(jitter: Double) -> Action {
        guard case .connected = state else { return .none }
        state = .waiting(attempt: 1)
        return .failInFlightThenWait(milliseconds: backoff.delay(attempt: 0, jitter: jitter))
    }

    public mutating func close() -> Action {
        state = .closed
        return .none
    }
}
