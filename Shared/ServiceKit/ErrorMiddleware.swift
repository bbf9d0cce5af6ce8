import Domain
import Foundation
import Hummingbird
import Logging
import Postgres

/// The last word on every error a route throws: no bare 500, ever. Errors that describe their own
/// response (`HTTPResponseError`: the services' 4xx refusals) pass through. A database that
/// cannot be reached is `503 database_unavailable` with `Retry-After`; anything else is
/// `500 internal_error`. Both have the same JSON body as every refusal (`code`, `message`,
/// `problems`) and are logged at error with the request id.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Seconds a client should wait before trying again while the database is away.
    public static var retryAfterSeconds: Int { 5 }

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as PostgresError where error.isConnectionProblem || error.kind == .closed {
            context.logger.error("database unavailable", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)",
            ])
            var response = try ErrorBody.response(status: .serviceUnavailable, code: .databaseUnavailable,
                                                  message: "the database cannot be reached just now; nothing was changed — try again shortly")
            response.headers[.retryAfter] = "\(Self.retryAfterSeconds)"
            return response
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(String(reflecting: error))",
            ])
            return try ErrorBody.response(status: .internalServerError, code: .internalError,
                                          message: "something went wrong on our side; it is logged (request \(context.id))")
        }
    }
}

/// The JSON body of every refusal and failure: `{"code": …, "message": …, "problems": [...]}`.
public struct ErrorBody: Encodable {
    public var code: ErrorCode
    public var message: String
    public var problems: [Problem]

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public static func response(status: HTTPResponse.Status, code: ErrorCode, message: String, problems: [Problem] = []) throws -> Response {
        let body = try encoder.encode(ErrorBody(code: code, message: message, problems: problems))
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
