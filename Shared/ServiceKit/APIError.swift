import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// Every refusal a service gives, as JSON: `{"code": "...", "message": "...", "problems": [...]}`.
/// `code` is machine-readable (the OpenAPI document lists them all), `message` is for a person,
/// `problems` names each field that was wrong. Nothing is stored when a request is refused.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code: ErrorCode
    public let message: String
    public var problems: [Problem] = []
    /// Headers the refusal carries (`Retry-After` on a lock-out).
    public var headers: HTTPFields = [:]

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try ErrorBody.response(status: status, code: code, message: message, problems: problems)
        response.headers.append(contentsOf: headers)
        return response
    }

    public static func validation(_ failure: ValidationFailure) -> APIError {
        let code = failure.problems.count == 1 ? failure.problems[0].code : .validationFailed
        return APIError(status: .unprocessableContent, code: code, message: failure.description, problems: failure.problems)
    }

    public static func badRequest(_ code: ErrorCode, _ message: String, field: String? = nil) -> APIError {
        APIError(status: .badRequest, code: code, message: message,
                 problems: [Problem(field: field, code: code, message: message)])
    }

    public static func forbidden(_ role: StaffRole, _ step: String) -> APIError {
        APIError(status: .forbidden, code: .forbidden, message: "a \(role.rawValue.replacingOccurrences(of: "_", with: " ")) may not \(step)")
    }

    /// No credentials, or ones that sign nobody in (unknown, expired, revoked, altered).
    public static func notSignedIn(_ message: String = "sign in first: POST /auth/login, then send the session cookie or Authorization: Bearer <token>") -> APIError {
        var error = APIError(status: .unauthorized, code: .notSignedIn, message: message)
        error.headers[.wwwAuthenticate] = "Bearer realm=\"PropDesk\""
        return error
    }

    public static func notFound(_ what: String) -> APIError {
        APIError(status: .notFound, code: .notFound, message: "\(what) not found")
    }

    public init(status: HTTPResponse.Status, code: ErrorCode, message: String, problems: [Problem] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems
    }
}
