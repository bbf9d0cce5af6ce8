import CRabbitMQ
import Endpoints
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The thread that owns one rabbitmq-c connection. Everything here runs on that thread only,
/// except `init` and the atomics.
final class Worker: @unchecked Sendable {
    private final class Consumer {
        let id: Int
        let queue: String
        let prefetch: UInt16
        let channel: UInt16
        let tag: String
        let stream: AsyncStream<AMQPDelivery>.Continuation
        /// Reset for every connection: delivery tags restart with the channel.
        var unsettled = UnsettledDeliveries()
        init(id: Int, queue: String, prefetch: UInt16, channel: UInt16, tag: String,
             stream: AsyncStream<AMQPDelivery>.Continuation) {
            self.id = id
            self.queue = queue
            self.prefetch = prefetch
            self.channel = channel
            self.tag = tag
            self.stream = stream
        }
    }

    private struct Waiter {
        let batch: PublishBatch
        let index: Int
    }

    private static let publishChannel: UInt16 = 1

    let configuration: AMQPConfiguration
    let logger: Logger
    let mailbox: Mailbox
    let watchdog: ReplyWatchdog
    weak var connection: AMQPConnection?
    let generationSnapshot = Atomic<Int>(0)

    private var machine: ConnectionStateMachine
    private var state: amqp_connection_state_t?
    private var tracker = ConfirmTracker<Waiter>()
    private var topologies: [AMQPTopology] = []
    private var consumers: [Int: Consumer] = [:]
    private var consumerByChannel: [UInt16: Consumer] = [:]
    private var nextConsumerID = 1
    private var startWaiter: CheckedContinuation<Void, Error>?
    private var lastConnectError = ""
    private var retryAt: ContinuousClock.Instant?
    private var finished = false
    private var pendingAcks: [UInt16: [UInt64]] = [:]
    /// The broker node connected to, or to try first (an index into the configuration's endpoints).
    private var endpointIndex = 0

    init(configuration: AMQPConfiguration, logger: Logger, mailbox: Mailbox, machine: ConnectionStateMachine) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "amqp_connection"] = "\(configuration.connectionName)"
        self.logger = logger
        self.mailbox = mailbox
        self.machine = machine
        watchdog = ReplyWatchdog(limitSeconds: configuration.replyTimeoutSeconds)
    }

    private var isConnected: Bool { machine.isConnected && state != nil }

    // MARK: - The loop

    func run(start: CheckedContinuation<Void, Error>) {
        startWaiter = start
        watchdog.start(name: configuration.connectionName)
        defer { watchdog.stop() }
        perform(machine.start())
        while !finished {
            for command in mailbox.take() {
                if case .settle(let channel, let tag, let generation, .ack) = command {
                    // Collected and written together (see flushAcks), so in-order acks become one frame.
                    if generation == machine.generation { pendingAcks[channel, default: []].append(tag) }
                    continue
                }
                flushAcks()
                handle(command)
                if finished { break }
            }
            flushAcks()
            if finished { break }
            if mailbox.isClosed {
                // The AMQPConnection was dropped without close(): shut down rather than linger.
                gracefulClose()
                break
            }
            if isConnected { pumpFrames() }
            sleepUntilWork()
        }
        for command in mailbox.close() { command.fail(.closed) }
    }

    private func sleepUntilWork() {
        if isConnected, let state, amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { return }
        guard mailbox.prepareToSleep() else { return }
        defer { mailbox.woke() }
        var fds = [pollfd(fd: mailbox.wakeRead, events: Int16(POLLIN), revents: 0)]
        var timeout: Int32
        if isConnected, let state {
            fds.append(pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0))
            // Wake often enough to send heartbeats: rabbitmq-c only services them inside its calls.
            let hb = configuration.heartbeatSeconds
            timeout = hb > 0 ? Int32(max(250, hb * 1000 / 4)) : 1000
        } else if let retryAt {
            let remaining = ContinuousClock.now.duration(to: retryAt)
            timeout = Int32(max(0, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
        } else {
            timeout = 1000
        }
        _ = poll(&fds, nfds_t(fds.count), timeout)
        if !isConnected, let retryAt, ContinuousClock.now >= retryAt {
            self.retryAt = nil
            perform(machine.retryTimerFired())
        }
    }

    // MARK: - State machine actions

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .connect:
            // Each node in turn, from the one after the node last lost: one attempt asks them all.
            var errors: [String] = []
            for step in configuration.endpoints.indices {
                let index = (endpointIndex + step) % configuration.endpoints.count
                let endpoint = configuration.endpoints[index]
                do {
                    try openConnection(endpoint)
                    endpointIndex = index
                    perform(machine.connectSucceeded())
                    return
                } catch {
                    closeSocket()
                    errors.append(configuration.endpoints.count > 1 ? "\(endpoint): \(error)" : "\(error)")
                }
            }
            lastConnectError = errors.joined(separator: "; ")
            logger.warning("cannot connect to RabbitMQ", metadata: [
                "amqp_url": "\(configuration.redactedURL)", "error": "\(lastConnectError)",
            ])
            perform(machine.connectFailed(jitter: .random(in: 0...1)))
        case .declareAndResume(let generation, let recovered):
            do {
                for topology in topologies { try declareNow(topology) }
                for consumer in consumers.values.sorted(by: { $0.id < $1.id }) { try startConsumer(consumer) }
            } catch {
                connectionLost("re-declaring after connect: \(error)")
                return
            }
            generationSnapshot.store(generation, ordering: .relaxed)
            connection?.setConnected(generation)
            if recovered {
                logger.notice("AMQP connection recovered", metadata: [
                    "amqp_generation": "\(generation)", "amqp_consumers": "\(consumers.count)",
                    "amqp_node": "\(configuration.endpoints[endpointIndex])",
                ])
            } else {
                logger.info("AMQP connected", metadata: [
                    "amqp_url": "\(configuration.redactedURL)", "amqp_node": "\(configuration.endpoints[endpointIndex])",
                ])
            }
            startWaiter?.resume()
            startWaiter = nil
        case .wait(let ms):
            retryAt = .now + .milliseconds(ms)
        case .fail:
            startWaiter?.resume(throwing: AMQPError.connectFailed(url: configuration.redactedURL, detail: lastConnectError))
            startWaiter = nil
            finishAll()
        case .failInFlightThenWait(let ms):
            retryAt = .now + .milliseconds(ms)
        case .none:
            break
        }
    }

    private func connectionLost(_ reason: String) {
        let reason = watchdog.takeCut()
            ? "the broker confirmed nothing for \(watchdog.limitSeconds) s; connection cut (\(reason))" : reason
        logger.warning("AMQP connection lost; recovering", metadata: ["reason": "\(reason)"])
        connection?.setConnected(0)
        closeSocket()
        // Recover on the next node first: the lost one may be the node that died.
        endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
        for waiter in tracker.reset() { waiter.batch.resolve(waiter.index, .failure(.notConfirmed(reason: reason))) }
        perform(machine.connectionLost(jitter: .random(in: 0...1)))
    }

    // MARK: - Commands

    private func handle(_ command: Command) {
        switch command {
        case .publish(let messages, let batch):
            guard isConnected else { return batch.failAll(.notConnected) }
            publish(messages, batch)
        case .declare(let topology, let c):
            guard isConnected else { return c.resume(throwing: AMQPError.notConnected) }
            do {
                try declareNow(topology)
                topologies.append(topology)
                c.resume()
            } catch {
                c.resume(throwing: error)
                // A broker-side refusal closes the channel: start over on a fresh connection.
                connectionLost("declare failed: \(error)")
            }
        case .deleteQueue(let queue, let c):
            topologies = topologies.map { $0.without(queue: queue) }
            guard isConnected, let state else { return c.resume(throwing: AMQPError.notConnected) }
            let arena = CArena()
            _ = amqp_queue_delete(state, Self.publishChannel, arena.bytes(queue), 0, 0)
            do {
                try check(state)
                c.resume()
            } catch {
                c.resume(throwing: error)
                connectionLost("queue.delete failed: \(error)")
            }
        case .consume(let queue, let prefetch, let stream, let c):
            let id = nextConsumerID
            nextConsumerID += 1
            let channel = UInt16(1 + id)
            let consumer = Consumer(id: id, queue: queue, prefetch: prefetch, channel: channel,
                                    tag: "\(configuration.connectionName).\(id)", stream: stream)
            consumers[id] = consumer
            consumerByChannel[channel] = consumer
            if isConnected {
                do {
                    try startConsumer(consumer)
                } catch {
                    consumers[id] = nil
                    consumerByChannel[channel] = nil
                    stream.finish()
                    c.resume(throwing: error)
                    connectionLost("consume failed: \(error)")
                    return
                }
            }
            c.resume(returning: id)
        case .cancel(let id, let c):
            if let consumer = consumers.removeValue(forKey: id) {
                if isConnected, let state {
                    let arena = CArena()
                    _ = amqp_basic_cancel(state, consumer.channel, arena.bytes(consumer.tag))
                    if let error = CDecode.replyError(amqp_get_rpc_reply(state)) {
                        logger.warning("basic.cancel failed", metadata: ["error": "\(error)"])
                    }
                    // Deliveries that arrived before cancel-ok were queued by rabbitmq-c: hand them out.
                    pumpFrames()
                }
                consumerByChannel[consumer.channel] = nil
                consumer.stream.finish()
            }
            c.resume()
        case .settle(let channel, let tag, let generation, let how):
            // A delivery from a lost connection: the broker has requeued it already.
            guard isConnected, let state, generation == machine.generation else { return }
            consumerByChannel[channel]?.unsettled.settledSingly(tag)
            let rc: Int32 = switch how {
            case .ack: amqp_basic_ack(state, channel, tag, 0)
            case .nack(let requeue): amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0)
            case .reject(let requeue): amqp_basic_reject(state, channel, tag, requeue ? 1 : 0)
            }
            if rc != AMQP_STATUS_OK.rawValue {
                connectionLost("settling a delivery: \(CDecode.errorString(rc))")
            }
        case .close(let c):
            gracefulClose()
            c.resume()
        }
    }

    /// Writes the acks collected from the mailbox, as few frames as the order allows.
    private func flushAcks() {
        guard !pendingAcks.isEmpty else { return }
        defer { pendingAcks.removeAll(keepingCapacity: true) }
        guard isConnected, let state else { return }
        for (channel, tags) in pendingAcks {
            let frames = consumerByChannel[channel]?.unsettled.ack(tags) ?? tags.map { ($0, false) }
            for frame in frames where amqp_basic_ack(state, channel, frame.tag, frame.multiple ? 1 : 0) != AMQP_STATUS_OK.rawValue {
                return connectionLost("writing acks")
            }
        }
    }

    private func publish(_ messages: [AMQPMessage], _ batch: PublishBatch) {
        guard let state else { return batch.failAll(.notConnected) }
        for (index, message) in messages.enumerated() {
            let arena = CArena()
            var props = amqp_basic_properties_t()
            props._flags = PROPDESK_FLAG_DELIVERY_MODE | PROPDESK_FLAG_CONTENT_TYPE
            props.delivery_mode = 2
            props.content_type = arena.bytes(message.contentType)
            if let id = message.messageID {
                props._flags |= PROPDESK_FLAG_MESSAGE_ID
                props.message_id = arena.bytes(id)
            }
            if let id = message.correlationID {
                props._flags |= PROPDESK_FLAG_CORRELATION_ID
                props.correlation_id = arena.bytes(id)
            }
            if let type = message.type {
                props._flags |= PROPDESK_FLAG_TYPE
                props.type = arena.bytes(type)
            }
            if let ts = message.timestamp {
                props._flags |= PROPDESK_FLAG_TIMESTAMP
                props.timestamp = ts
            }
            if !message.headers.isEmpty {
                props._flags |= PROPDESK_FLAG_HEADERS
                props.headers = arena.table(message.headers)
            }
            let rc = message.body.withUnsafeBytes { body in
                amqp_basic_publish(
                    state, Self.publishChannel, arena.bytes(message.exchange), arena.bytes(message.routingKey),
                    message.mandatory ? 1 : 0, 0, &props,
                    amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
            }
            guard rc == AMQP_STATUS_OK.rawValue else {
                let reason = CDecode.errorString(rc)
                batch.resolve(index, .failure(.notConfirmed(reason: reason)))
                batch.failAll(.notConnected, from: index + 1)
                connectionLost("publishing: \(reason)")
                return
            }
            _ = tracker.published(messageID: message.messageID, waiter: Waiter(batch: batch, index: index))
        }
        watchdog.waiting(since: tracker.oldestSentAt)
    }

    // MARK: - Frames

    /// Handles every frame that is already available, without blocking.
    private func pumpFrames() {
        var handled = 0
        while isConnected, let state, handled < 10_000 {
            var frame = amqp_frame_t()
            var zero = timeval(tv_sec: 0, tv_usec: 0)
            let rc = amqp_simple_wait_frame_noblock(state, &frame, &zero)
            if rc == AMQP_STATUS_TIMEOUT.rawValue { return }
            guard rc == AMQP_STATUS_OK.rawValue else {
                return connectionLost(CDecode.errorString(rc))
            }
            handled += 1
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
                handleMethod(&frame, state)
            }
            if let s = self.state { amqp_maybe_release_buffers(s) }
        }
    }

    private func handleMethod(_ frame: inout amqp_frame_t, _ state: amqp_connection_state_t) {
        let channel = frame.channel
        let id = frame.payload.method.id
        switch id {
        case PROPDESK_BASIC_ACK:
            let ack = propdesk_as_ack(&frame.payload.method).pointee
            settle(tracker.acked(tag: ack.delivery_tag, multiple: ack.multiple != 0))
        case PROPDESK_BASIC_NACK:
            let nack = propdesk_as_nack(&frame.payload.method).pointee
            settle(tracker.nacked(tag: nack.delivery_tag, multiple: nack.multiple != 0))
        case PROPDESK_BASIC_RETURN:
            let ret = propdesk_as_return(&frame.payload.method).pointee
            let code = ret.reply_code
            let text = CDecode.string(ret.reply_text)
            var message = amqp_message_t()
            let reply = amqp_read_message(state, channel, &message, 0)
            if let error = CDecode.replyError(reply) { return connectionLost("reading a returned message: \(error)") }
            let props = CDecode.properties(message.properties)
            amqp_destroy_message(&message)
            tracker.returned(messageID: props.messageID, code: code, text: text)
        case PROPDESK_BASIC_DELIVER:
            let deliver = propdesk_as_deliver(&frame.payload.method).pointee
            let exchange = CDecode.string(deliver.exchange)
            let routingKey = CDecode.string(deliver.routing_key)
            var message = amqp_message_t()
            let reply = amqp_read_message(state, channel, &message, 0)
            if let error = CDecode.replyError(reply) { return connectionLost("reading a delivery: \(error)") }
            guard let connection else {
                amqp_destroy_message(&message)
                _ = amqp_basic_reject(state, channel, deliver.delivery_tag, 1)
                return
            }
            let delivery = AMQPDelivery(
                body: CDecode.data(message.body), properties: CDecode.properties(message.properties),
                exchange: exchange, routingKey: routingKey, redelivered: deliver.redelivered != 0,
                deliveryTag: deliver.delivery_tag, channel: channel, generation: machine.generation,
                connection: connection)
            amqp_destroy_message(&message)
            if let consumer = consumerByChannel[channel], case .enqueued = consumer.stream.yield(delivery) {
                consumer.unsettled.delivered(deliver.delivery_tag)
                return
            }
            // Nobody is listening any more: give the message back to the queue.
            _ = amqp_basic_reject(state, channel, deliver.delivery_tag, 1)
        case PROPDESK_BASIC_CANCEL:
            // The broker cancelled a consumer (its queue was deleted).
            if let consumer = consumerByChannel.removeValue(forKey: channel) {
                consumers[consumer.id] = nil
                logger.warning("broker cancelled consumer", metadata: ["amqp_queue": "\(consumer.queue)"])
                consumer.stream.finish()
            }
        case PROPDESK_CHANNEL_CLOSE:
            let close = propdesk_as_channel_close(&frame.payload.method).pointee
            connectionLost("channel \(channel) closed by broker: \(close.reply_code) \(CDecode.string(close.reply_text))")
        case PROPDESK_CONNECTION_CLOSE:
            let close = propdesk_as_connection_close(&frame.payload.method).pointee
            connectionLost("connection closed by broker: \(close.reply_code) \(CDecode.string(close.reply_text))")
        case PROPDESK_CONNECTION_BLOCKED:
            logger.warning("broker blocked publishing (resource alarm)")
        case PROPDESK_CONNECTION_UNBLOCKED:
            logger.notice("broker unblocked publishing")
        default:
            break
        }
    }

    private func settle(_ settled: [(Waiter, ConfirmTracker<Waiter>.Outcome)]) {
        for (waiter, outcome) in settled {
            switch outcome {
            case .confirmed: waiter.batch.resolve(waiter.index, .success(()))
            case .rejected: waiter.batch.resolve(waiter.index, .failure(.rejected))
            case .returned(let code, let text): waiter.batch.resolve(waiter.index, .failure(.returned(code: code, text: text)))
            }
        }
        watchdog.waiting(since: tracker.oldestSentAt)
    }

    // MARK: - Connection I/O

    private func openConnection(_ endpoint: Endpoint) throws {
        guard let state = amqp_new_connection() else { throw AMQPError.protocolError("out of memory") }
        self.state = state
        // Every command's reply (declare, consume, cancel, close) waits at most this long.
        var replyTimeout = timeval(tv_sec: configuration.replyTimeoutSeconds, tv_usec: 0)
        _ = amqp_set_rpc_timeout(state, &replyTimeout)
        guard let socket = amqp_tcp_socket_new(state) else { throw AMQPError.protocolError("cannot create socket") }
        let arena = CArena()
        var timeout = timeval(tv_sec: configuration.connectionTimeoutSeconds, tv_usec: 0)
        let rc = amqp_socket_open_noblock(socket, arena.cString(endpoint.host), Int32(endpoint.port), &timeout)
        guard rc == AMQP_STATUS_OK.rawValue else { throw AMQPError.protocolError(CDecode.errorString(rc)) }
        watchdog.attach(amqp_get_sockfd(state))
        let login = propdesk_amqp_login(
            state, arena.cString(configuration.vhost), 0, 131_072, Int32(configuration.heartbeatSeconds),
            arena.cString(configuration.user), arena.cString(configuration.password))
        if let error = CDecode.replyError(login) {
            if case .protocolError = error, login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION,
               login.library_error == AMQP_STATUS_CONNECTION_CLOSED.rawValue || login.library_error == AMQP_STATUS_SOCKET_ERROR.rawValue {
                throw AMQPError.protocolError("login refused (check user, password and vhost \"\(configuration.vhost)\")")
            }
            throw error
        }
        _ = amqp_channel_open(state, Self.publishChannel)
        try check(state)
        _ = amqp_confirm_select(state, Self.publishChannel)
        try check(state)
    }

    private func check(_ state: amqp_connection_state_t) throws {
        if let error = CDecode.replyError(amqp_get_rpc_reply(state)) { throw error }
    }

    private func declareNow(_ topology: AMQPTopology) throws {
        guard let state else { throw AMQPError.notConnected }
        let ch = Self.publishChannel
        for exchange in topology.exchanges {
            let arena = CArena()
            _ = amqp_exchange_declare(state, ch, arena.bytes(exchange.name), arena.bytes(exchange.type), 0, 1, 0, 0,
                                      arena.table(exchange.arguments))
            try check(state)
        }
        for queue in topology.queues {
            let arena = CArena()
            _ = amqp_queue_declare(state, ch, arena.bytes(queue.name), 0, queue.durable ? 1 : 0, queue.exclusive ? 1 : 0,
                                   queue.exclusive ? 1 : 0, arena.table(queue.arguments))
            try check(state)
        }
        for binding in topology.bindings {
            let arena = CArena()
            _ = amqp_queue_bind(state, ch, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                                arena.bytes(binding.routingKey), amqp_table_t(num_entries: 0, entries: nil))
            try check(state)
        }
    }

    private func startConsumer(_ consumer: Consumer) throws {
        guard let state else { throw AMQPError.notConnected }
        let arena = CArena()
        consumer.unsettled = UnsettledDeliveries()
        _ = amqp_channel_open(state, consumer.channel)
        try check(state)
        _ = amqp_basic_qos(state, consumer.channel, 0, consumer.prefetch, 0)
        try check(state)
        _ = amqp_basic_consume(state, consumer.channel, arena.bytes(consumer.queue), arena.bytes(consumer.tag),
                               0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        try check(state)
    }

    private func closeSocket() {
        guard let state else { return }
        watchdog.detach()
        amqp_destroy_connection(state)
        self.state = nil
    }

    private func gracefulClose() {
        // Give outstanding confirms a moment to arrive.
        let deadline = ContinuousClock.now + .seconds(5)
        while isConnected, tracker.pendingCount > 0, ContinuousClock.now < deadline {
            pumpFrames()
            if let state, tracker.pendingCount > 0 {
                var fd = pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, 50)
            }
        }
        if let state {
            _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        }
        closeSocket()
        for waiter in tracker.reset() { waiter.batch.resolve(waiter.index, .failure(.notConfirmed(reason: "connection closed"))) }
        finishAll()
    }

    private func finishAll() {
        _ = machine.close()
        connection?.setConnected(0)
        for consumer in consumers.values { consumer.stream.finish() }
        consumers.removeAll()
        consumerByChannel.removeAll()
        for command in mailbox.close() { command.fail(.closed) }
        finished = true
    }
}
