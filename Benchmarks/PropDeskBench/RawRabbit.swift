import CRabbitMQ
import Foundation

/// The baseline: rabbitmq-c called directly in a tight loop, no threads, no Swift concurrency.
/// Same work as the library path: persistent messages, publisher confirms read in batches,
/// consume with a prefetch and one ack per message.
final class RawRabbit {
    let state: amqp_connection_state_t
    /// Delivery tags on the confirm channel continue across rounds.
    private var tag: UInt64 = 0
    private var acked: UInt64 = 0

    init(host: String, port: Int, user: String, password: String, vhost: String) throws {
        state = amqp_new_connection()
        let socket = amqp_tcp_socket_new(state)
        guard amqp_socket_open(socket, host, Int32(port)) == 0 else { throw BenchError("raw: cannot open socket") }
        let reply = propdesk_amqp_login(state, vhost, 0, 131_072, 0, user, password)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else { throw BenchError("raw: login failed") }
        amqp_channel_open(state, 1)
        amqp_confirm_select(state, 1)
        guard amqp_get_rpc_reply(state).reply_type == AMQP_RESPONSE_NORMAL else { throw BenchError("raw: confirm.select failed") }
    }

    func close() {
        amqp_connection_close(state, 200)
        amqp_destroy_connection(state)
    }

    /// Publishes `count` messages, waiting for confirms after every `window`.
    func publish(count: Int, body: [UInt8], exchange: String, routingKey: String, window: Int) throws {
        var props = amqp_basic_properties_t()
        props._flags = PROPDESK_FLAG_DELIVERY_MODE | PROPDESK_FLAG_CONTENT_TYPE
        props.delivery_mode = 2
        var ex = Array(exchange.utf8), rk = Array(routingKey.utf8), ct = Array("application/json".utf8), b = body
        try ct.withUnsafeMutableBytes { ctp in
            props.content_type = amqp_bytes_t(len: ctp.count, bytes: ctp.baseAddress)
            try ex.withUnsafeMutableBytes { exp in
                try rk.withUnsafeMutableBytes { rkp in
                    try b.withUnsafeMutableBytes { bp in
                        for i in 0..<count {
                            let rc = amqp_basic_publish(state, 1, amqp_bytes_t(len: exp.count, bytes: exp.baseAddress),
                                                        amqp_bytes_t(len: rkp.count, bytes: rkp.baseAddress), 0, 0, &props,
                                                        amqp_bytes_t(len: bp.count, bytes: bp.baseAddress))
                            guard rc == 0 else { throw BenchError("raw: publish failed") }
                            tag += 1
                            if (i + 1) % window == 0 || i + 1 == count {
                                while acked < tag {
                                    var frame = amqp_frame_t()
                                    guard amqp_simple_wait_frame(state, &frame) == 0 else { throw BenchError("raw: wait failed") }
                                    if frame.frame_type == UInt8(AMQP_FRAME_METHOD), frame.payload.method.id == PROPDESK_BASIC_ACK {
                                        let ack = propdesk_as_ack(&frame.payload.method).pointee
                                        acked = ack.multiple != 0 ? ack.delivery_tag : max(acked, ack.delivery_tag)
                                    }
                                    amqp_maybe_release_buffers(state)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Consumes `count` messages from `queue`, acking each.
    func consume(count: Int, queue: String, prefetch: UInt16) throws {
        amqp_channel_open(state, 2)
        amqp_basic_qos(state, 2, 0, prefetch, 0)
        var q = Array(queue.utf8)
        q.withUnsafeMutableBytes { qp in
            _ = amqp_basic_consume(state, 2, amqp_bytes_t(len: qp.count, bytes: qp.baseAddress), amqp_bytes_t(len: 0, bytes: nil),
                                   0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        }
        guard amqp_get_rpc_reply(state).reply_type == AMQP_RESPONSE_NORMAL else { throw BenchError("raw: consume failed") }
        var received = 0
        while received < count {
            var envelope = amqp_envelope_t()
            amqp_maybe_release_buffers(state)
            let reply = amqp_consume_message(state, &envelope, nil, 0)
            if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION, reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
                // Not a delivery (a late confirm, say): read that frame and go on.
                var frame = amqp_frame_t()
                guard amqp_simple_wait_frame(state, &frame) == 0 else { throw BenchError("raw: wait failed") }
                continue
            }
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                throw BenchError("raw: consume_message failed: \(String(cString: amqp_error_string2(reply.library_error)))")
            }
            amqp_basic_ack(state, 2, envelope.delivery_tag, 0)
            amqp_destroy_envelope(&envelope)
            received += 1
        }
        amqp_channel_close(state, 2, 200)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
