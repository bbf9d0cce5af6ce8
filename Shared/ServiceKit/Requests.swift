import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// How every service reads a request and writes JSON: the body's size, media type, encoding and
/// shape are checked here once, each refusal a 4xx with its ``ErrorCode``.
public enum JSONRequest {
    /// Request bodies over this are refused with 413 before they are read.
    public static let maxBody = 64 * 1024

    /// Reads a JSON body: 413 over ``maxBody``, 400 for bytes that are not UTF-8 or not JSON,
    /// 422 for a field of the wrong type or format (naming it).
    public static func decode<T: Decodable>(_ type: T.Type, _ request: Request, decoder: JSONDecoder, maxBody: Int = maxBody) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBody)
        } catch {
            throw APIError(status: .contentTooLarge, code: .bodyTooLarge, message: "the body is over \(maxBody / 1024) KiB")
        }
        let data = Data(buffer: buffer)
        if !data.isEmpty, !isJSON(request.headers[.contentType]) {
            throw APIError(status: .unsupportedMediaType, code: .unsupportedMediaType,
                           message: "send the body as JSON with Content-Type: application/json")
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw APIError.badRequest(.invalidUtf8, "the body is not valid UTF-8")
        }
        do {
            return try decoder.decode(T.self, from: data.isEmpty ? Data("{}".utf8) : data)
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            throw fieldError(context)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw fieldError(context)
        } catch {
            throw APIError.badRequest(.invalidJson, "the body is not a JSON object of the documented shape")
        }
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`), in any case.
    public static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    private static func fieldError(_ context: DecodingError.Context) -> APIError {
        let field = context.codingPath.map(\.stringValue).joined(separator: ".")
        return APIError(status: .unprocessableContent, code: .invalidFormat, message: "\(field): \(context.debugDescription)",
                        problems: [Problem(field: field, code: .invalidFormat, message: context.debugDescription)])
    }

    public static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, encoder: JSONEncoder) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// FNV-1a 64 of the request, to tell a retry from a different request under the same key.
    public static func fingerprint(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// A query string as HTML forms and browsers write it: `+` is a space, `%XX` a byte of UTF-8.
/// A value that is not UTF-8 or holds a control character (`%00`) is refused with 400.
public struct FormQuery: Sendable {
    private var values: [String: String] = [:]

    public init(_ query: String?) throws {
        for pair in (query ?? "").split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ raw: Substring) throws -> String {
                let spaced = raw.replacingOccurrences(of: "+", with: " ")
                guard let text = spaced.removingPercentEncoding else {
                    throw APIError.badRequest(.invalidFormat, "the query string is not percent-encoded UTF-8")
                }
                return text
            }
            let name = try decode(parts[0])
            let value = parts.count > 1 ? try decode(parts[1]) : ""
            if let bad = FieldCheck.controlCharacter(in: name + value) {
                throw APIError.badRequest(.invalidFormat, "\(name.prefix(20)) contains a control character (\(bad))", field: String(name.prefix(20)))
            }
            if values[name] == nil { values[name] = value }
        }
    }

    public subscript(_ name: String) -> String? { values[name] }

    /// A value of `E`, or nil when absent; 400 naming the choices for any other value.
    public func choice<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type) throws -> E? where E.RawValue == String {
        guard let raw = self[name] else { return nil }
        guard let value = E(rawValue: raw) else {
            throw APIError.badRequest(.unknownValue, "\(name) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))", field: name)
        }
        return value
    }

    /// `true` or `false` (absent: false); 400 for anything else.
    public func flag(_ name: String) throws -> Bool {
        guard let raw = self[name] else { return false }
        guard raw == "true" || raw == "false" else { throw APIError.badRequest(.unknownValue, "\(name) is true or false", field: name) }
        return raw == "true"
    }
}

extension HTTPField.Name {
    public static let idempotencyKey = Self("Idempotency-Key")!
    public static let idempotentReplayed = Self("Idempotent-Replayed")!
}
