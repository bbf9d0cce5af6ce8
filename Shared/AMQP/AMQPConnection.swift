import CRabbitMQ
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An AMQP 0-9-1 connection with publisher confirms, consumers and automatic recovery.
///
/// rabbitmq-c is not thread-safe and services heartbeats only inside its own calls, so one
/// dedicated thread owns the C connection and keeps pumping frames; async callers post commands
/// to it through a mailbox and are resumed from that thread.
///
/// - Publishing: every message is persistent, goes out on a channel in confirm mode, and the call
///   returns when the broker has confirmed it. A publish that was sent but not confirmed when the
///   connection dropped fails with ``AMQPError/notConfirmed(reason:)``; none is silently dropped.
/// - Consuming: manual acks with a prefetch, one channel per consumer.
/// - Recovery: when the connection drops (broker restart, network, heartbeat timeout, a channel
///   error), the thread reconnects with backoff (100 ms doubling to 5 s, jittered), re-declares
///   every topology declared so far and resumes every consumer. Deliveries from the lost
///   connection can no longer be acked (the broker has requeued them): their `ack()` is dropped.
public final class AMQPConnection: Sendable {
    public let configuration: AMQPConfiguration
    private let mailbox: Mailbox
    private let worker: Worker
    /// The connection generation while connected, 0 while not.
    private let connectedGeneration = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)

    public init(
        configuration: AMQPConfiguration, logger: Logger = Logger(label: "propdesk.amqp"),
        initialAttempts: Int = 5, backoff: ConnectionStateMachine.Backoff = .init()
    ) {
        self.configuration = configuration
        let mailbox = Mailbox()
        self.mailbox = mailbox
        self.worker = Worker(
            configuration: configuration, logger: logger, mailbox: mailbox,
            machine: ConnectionStateMachine(initialAttempts: initialAttempts, backoff: backoff))
        worker.connection = self
    }

    deinit {
        for command in mailbox.close() { command.fail(.closed) }
    }

    /// True while a connection is up (false while recovering).
    public var isConnected: Bool { connectedGeneration.load(ordering: .relaxed) > 0 }

    /// Counts connections made: 1 after the first connect, +1 per recovery.
    public var generation: Int { worker.generationSnapshot.load(ordering: .relaxed) }

    func setConnected(_ generation: Int) { connectedGeneration.store(generation, ordering: .relaxed) }

    /// Makes the first connection. Throws ``AMQPError/connectFailed(url:detail:)`` naming the
    /// (redacted) URL when the broker cannot be reached or refuses the login.
    public func connect() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            let worker = self.worker
            let thread = Thread { worker.run(start: c) }
            thread.name = "amqp-\(configuration.connectionName)"
            thread.start()
        }
    }

    /// Declares exchanges, queues and bindings now and again after every recovery.
    public func declare(_ topology: AMQPTopology) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            if !mailbox.send(.declare(topology, c)) { c.resume(throwing: AMQPError.closed) }
        }
    }

    /// Deletes a queue (and its bindings) now, and stops re-declaring it after recoveries.
    public func delete(queue: String) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            if !mailbox.send(.deleteQueue(queue, c)) { c.resume(throwing: AMQPError.closed) }
        }
    }

    /// Publishes one persistent message and waits for the broker's confirm.
    public func publish(_ message: AMQPMessage) async throws {
        try await publish([message])[0].get()
    }

    /// Publishes messages in order and waits for all their confirms; one result per message.
    public func publish(_ messages: [AMQPMessage]) async -> [Result<Void, AMQPError>] {
        await send(messages).confirmed()
    }

    /// Hands messages to the connection now, behind everything sent before, and returns without
    /// waiting for the broker: the returned ``PublishConfirms`` gives their results. Lets a
    /// caller keep several batches in flight while their order on the wire stays the call order.
    public func send(_ messages: [AMQPMessage]) -> PublishConfirms {
        let confirms = PublishConfirms(count: messages.count)
        if !messages.isEmpty, !mailbox.send(.publish(messages, PublishBatch(count: messages.count, confirms: confirms))) {
            confirms.complete(Array(repeating: .failure(.closed), count: messages.count))
        }
        return confirms
    }

    /// Starts consuming `queue` with manual acks and at most `prefetch` unacknowledged deliveries.
    /// The consumer survives recoveries; end it with ``AMQPConsumer/cancel()``.
    public func consume(queue: String, prefetch: UInt16 = 50) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncStream<AMQPDelivery>.makeStream()
        let id = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, Error>) in
            if !mailbox.send(.consume(queue: queue, prefetch: prefetch, continuation, c)) {
                c.resume(throwing: AMQPError.closed)
            }
        }
        return AMQPConsumer(id: id, stream: stream, connection: self)
    }

    func cancel(consumer id: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !mailbox.send(.cancel(consumer: id, c)) { c.resume() }
        }
    }

    func settle(_ delivery: AMQPDelivery, _ how: Settlement) {
        _ = mailbox.send(.settle(channel: delivery.channel, tag: delivery.deliveryTag, generation: delivery.generation, how))
    }

    /// Waits (up to 5 s) for outstanding confirms, closes the connection and ends all consumers.
    public func close() async {
        guard started.load(ordering: .relaxed) else {
            // Never connected: whatever was asked of it fails now rather than waiting for ever.
            for command in mailbox.close() { command.fail(.closed) }
            return
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !mailbox.send(.close(c)) { c.resume() }
        }
    }
}

/// A message received by a consumer. Ack it only after its effects are committed.
public struct AMQPDelivery: Sendable {
    public let body: Data
    public let properties: AMQPProperties
    public let exchange: String
    public let routingKey: String
    public let redelivered: Bool
    public let deliveryTag: UInt64
    let channel: UInt16
    let generation: Int
    let connection: AMQPConnection

    /// How often the broker has delivered this message before (quorum queues count it).
    public var deliveryCount: Int { Int(properties.headers["x-delivery-count"]?.intValue ?? 0) }

    // Settling queues the frame for the connection thread and returns: AMQP has no reply to an
    // ack, so waiting would only serialise consumers (and cap them at a quarter of the raw rate).
    // If the connection is lost first, the frame is dropped; the broker has already requeued the
    // message and redelivers it, and the consumer's inbox absorbs the duplicate.

    /// Acknowledges the delivery (call it after the message's effects are committed).
    public func ack() { connection.settle(self, .ack) }
    /// Negatively acknowledges it; with `requeue` the broker delivers it again (counting toward a
    /// quorum queue's delivery limit), without it the message is dead-lettered or dropped.
    public func nack(requeue: Bool) { connection.settle(self, .nack(requeue: requeue)) }
    public func reject(requeue: Bool) { connection.settle(self, .reject(requeue: requeue)) }
}

/// The deliveries of one consumer, in order. The sequence ends after ``cancel()`` once every
/// delivery already received has been handed out, or when the connection is closed.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    let id: Int
    let stream: AsyncStream<AMQPDelivery>
    let connection: AMQPConnection

    public func makeAsyncIterator() -> AsyncStream<AMQPDelivery>.AsyncIterator { stream.makeAsyncIterator() }

    /// Stops new deliveries (`basic.cancel`); what was already received is still handed out.
    public func cancel() async { await connection.cancel(consumer: id) }
}

enum Settlement: Sendable {
    case ack
    case nack(requeue: Bool)
    case reject(requeue: Bool)
}

enum Command: Sendable {
    case publish([AMQPMessage], PublishBatch)
    case declare(AMQPTopology, CheckedContinuation<Void, Error>)
    case deleteQueue(String, CheckedContinuation<Void, Error>)
    case consume(queue: String, prefetch: UInt16, AsyncStream<AMQPDelivery>.Continuation, CheckedContinuation<Int, Error>)
    case cancel(consumer: Int, CheckedContinuation<Void, Never>)
    case settle(channel: UInt16, tag: UInt64, generation: Int, Settlement)
    case close(CheckedContinuation<Void, Never>)

    func fail(_ error: AMQPError) {
        switch self {
        case .publish(_, let batch): batch.failAll(error)
        case .declare(_, let c), .deleteQueue(_, let c): c.resume(throwing: error)
        case .consume(_, _, let stream, let c):
            stream.finish()
            c.resume(throwing: error)
        case .cancel(_, let c): c.resume()
        case .settle: break
        case .close(let c): c.resume()
        }
    }
}

/// The results of one publish call, filled in on the connection thread as confirms arrive.
final class PublishBatch: @unchecked Sendable {
    // Mutated only on the connection thread after creation.
    private var results: [Result<Void, AMQPError>?]
    private var remaining: Int
    private let confirms: PublishConfirms

    init(count: Int, confirms: PublishConfirms) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.confirms = confirms
    }

    func resolve(_ index: Int, _ result: Result<Void, AMQPError>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { confirms.complete(results.map { $0! }) }
    }

    func failAll(_ error: AMQPError, from start: Int = 0) {
        for i in start..<results.count { resolve(i, .failure(error)) }
    }
}

/// The outcome of a ``AMQPConnection/send(_:)``: one result per message, once the broker has
/// confirmed (or refused) each, or the connection failed them.
public final class PublishConfirms: Sendable {
    private struct State {
        var results: [Result<Void, AMQPError>]?
        var waiter: CheckedContinuation<[Result<Void, AMQPError>], Never>?
    }
    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: count == 0 ? [] : nil))
    }

    func complete(_ results: [Result<Void, AMQPError>]) {
        let waiter = state.withLock { s -> CheckedContinuation<[Result<Void, AMQPError>], Never>? in
            s.results = results
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: results)
    }

    /// Waits for every message's result (once; a second waiter would replace the first).
    public func confirmed() async -> [Result<Void, AMQPError>] {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> [Result<Void, AMQPError>]? in
                if s.results == nil { s.waiter = c }
                return s.results
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}

/// Commands from any thread to the connection thread; a pipe wakes the thread from `poll`.
final class Mailbox: Sendable {
    private struct State {
        var commands: [Command] = []
        var sleeping = false
        var closed = false
    }
    private let state = Mutex(State())
    let wakeRead: Int32
    let wakeWrite: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "cannot create the AMQP wake-up pipe")
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, fcntl(wakeRead, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// False if the connection is closed; the caller then fails the command itself.
    func send(_ command: Command) -> Bool {
        let wake = state.withLock { s -> Bool? in
            guard !s.closed else { return nil }
            s.commands.append(command)
            return s.sleeping
        }
        guard let wake else { return false }
        if wake { wakeUp() }
        return true
    }

    func wakeUp() {
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)
    }

    func take() -> [Command] {
        state.withLock { s in
            defer { s.commands.removeAll(keepingCapacity: true) }
            return s.commands
        }
    }

    /// Marks the thread as about to sleep unless commands are waiting.
    func prepareToSleep() -> Bool {
        state.withLock { s in
            if s.commands.isEmpty { s.sleeping = true }
            return s.sleeping
        }
    }

    func woke() {
        state.withLock { $0.sleeping = false }
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Refuses further commands and returns those still queued.
    @discardableResult
    func close() -> [Command] {
        state.withLock { s in
            s.closed = true
            defer { s.commands.removeAll() }
            return s.commands
        }
    }
}
