import CRabbitMQ
import Foundation

/// Owns the C memory handed to one rabbitmq-c call; everything is freed with the arena.
/// (`amqp_cstring_bytes` on a Swift string would point at a temporary: always copy.)
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit { for p in allocations { free(p) } }

    func bytes(_ string: String) -> amqp_bytes_t {
        var utf8 = Array(string.utf8)
        return utf8.withUnsafeMutableBytes { bytes(copying: UnsafeRawBufferPointer($0)) }
    }

    func bytes(copying raw: UnsafeRawBufferPointer) -> amqp_bytes_t {
        let p = malloc(max(raw.count, 1))!
        if let base = raw.baseAddress, raw.count > 0 { p.copyMemory(from: base, byteCount: raw.count) }
        allocations.append(p)
        return amqp_bytes_t(len: raw.count, bytes: p)
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let p = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func table(_ fields: [String: AMQPFieldValue]) -> amqp_table_t {
        guard !fields.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let raw = malloc(MemoryLayout<amqp_table_entry_t>.stride * fields.count)!
        allocations.append(raw)
        let entries = raw.bindMemory(to: amqp_table_entry_t.self, capacity: fields.count)
        for (i, (key, value)) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[i] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(fields.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        switch value {
        case .string(let s): propdesk_field_utf8(bytes(s))
        case .int(let i): propdesk_field_i64(i)
        case .bool(let b): propdesk_field_bool(b ? 1 : 0)
        case .table(let t): propdesk_field_table(table(t))
        case .double, .timestamp, .bytes, .array, .void: propdesk_field_utf8(bytes(value.description))
        }
    }
}

enum CDecode {
    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let p = b.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: b.len), as: UTF8.self)
    }

    static func data(_ b: amqp_bytes_t) -> Data {
        guard b.len > 0, let p = b.bytes else { return Data() }
        return Data(bytes: p, count: b.len)
    }

    static func table(_ t: amqp_table_t) -> [String: AMQPFieldValue] {
        var out: [String: AMQPFieldValue] = [:]
        guard t.num_entries > 0, let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) {
            out[string(entries[i].key)] = field(entries[i].value)
        }
        return out
    }

    static func field(_ v: amqp_field_value_t) -> AMQPFieldValue {
        switch UnicodeScalar(v.kind) {
        case "S": .string(string(v.value.bytes))
        case "x": .bytes(Array(data(v.value.bytes)))
        case "t": .bool(v.value.boolean != 0)
        case "b": .int(Int64(v.value.i8))
        case "B": .int(Int64(v.value.u8))
        case "s": .int(Int64(v.value.i16))
        case "u": .int(Int64(v.value.u16))
        case "I": .int(Int64(v.value.i32))
        case "i": .int(Int64(v.value.u32))
        case "l": .int(v.value.i64)
        case "L": .int(Int64(truncatingIfNeeded: v.value.u64))
        case "f": .double(Double(v.value.f32))
        case "d": .double(v.value.f64)
        case "T": .timestamp(v.value.u64)
        case "F": .table(table(v.value.table))
        case "A":
            .array((0..<Int(v.value.array.num_entries)).map { field(v.value.array.entries[$0]) })
        default: .void
        }
    }

    static func properties(_ p: amqp_basic_properties_t) -> AMQPProperties {
        let flags = p._flags
        func has(_ flag: amqp_flags_t) -> Bool { flags & flag != 0 }
        return AMQPProperties(
            messageID: has(PROPDESK_FLAG_MESSAGE_ID) ? string(p.message_id) : nil,
            correlationID: has(PROPDESK_FLAG_CORRELATION_ID) ? string(p.correlation_id) : nil,
            type: has(PROPDESK_FLAG_TYPE) ? string(p.type) : nil,
            contentType: has(PROPDESK_FLAG_CONTENT_TYPE) ? string(p.content_type) : nil,
            headers: has(PROPDESK_FLAG_HEADERS) ? table(p.headers) : [:],
            timestamp: has(PROPDESK_FLAG_TIMESTAMP) ? p.timestamp : nil,
            persistent: has(PROPDESK_FLAG_DELIVERY_MODE) && p.delivery_mode == 2
        )
    }

    static func errorString(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    /// Turns an RPC reply into nil (success) or a readable error.
    static func replyError(_ reply: amqp_rpc_reply_t) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_NONE:
            return .protocolError("missing RPC reply")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return .protocolError(errorString(reply.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            var method = reply.reply
            if method.id == PROPDESK_CHANNEL_CLOSE {
                let close = propdesk_as_channel_close(&method).pointee
                return .channelError(code: close.reply_code, text: string(close.reply_text))
            }
            if method.id == PROPDESK_CONNECTION_CLOSE {
                let close = propdesk_as_connection_close(&method).pointee
                return .channelError(code: close.reply_code, text: string(close.reply_text))
            }
            return .protocolError("unexpected server method \(method.id)")
        default:
            return .protocolError("unknown reply type")
        }
    }
}
