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

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try ErrorBody.response(status: status, code: code, message: message, problems: problems)
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

/// Who is calling, as the office's gateway declares it: `X-PropDesk-Role` (required: a request
/// without it is refused, never taken for the desk) and `X-PropDesk-Staff` (their name, at most
/// 64 characters). The same check on every service's routes.
public enum StaffHeaders {
    public static let role = HTTPField.Name("X-PropDesk-Role")!
    public static let staff = HTTPField.Name("X-PropDesk-Staff")!
    public static let maxStaff = 64

    public static func identify(_ request: Request) throws -> (staff: String, role: StaffRole) {
        guard let roleName = request.headers[role], !roleName.isEmpty else {
            throw APIError(status: .unauthorized, code: .roleRequired,
                           message: "say who is calling: X-PropDesk-Role is required (one of \(StaffRole.allCases.map(\.rawValue).joined(separator: ", ")))",
                           problems: [Problem(field: "X-PropDesk-Role", code: .roleRequired, message: "X-PropDesk-Role is required")])
        }
        guard let parsed = StaffRole(rawValue: roleName) else {
            throw APIError.badRequest(.unknownValue,
                "X-PropDesk-Role must be one of \(StaffRole.allCases.map(\.rawValue).joined(separator: ", "))", field: "X-PropDesk-Role")
        }
        var check = FieldCheck()
        let name = check.text(request.headers[staff], "X-PropDesk-Staff", required: false, max: maxStaff)
        if let failure = check.failure {
            throw APIError(status: .badRequest, code: failure.problems[0].code, message: failure.description, problems: failure.problems)
        }
        return (name ?? "unnamed", parsed)
    }
}
