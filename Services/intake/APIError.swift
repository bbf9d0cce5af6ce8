import Desk
import Domain
import Foundation
import Hummingbird

/// Every refusal the API gives, as JSON: `{"code": "...", "message": "...", "problems": [...]}`.
/// `code` is machine-readable (the OpenAPI document lists them all), `message` is for a person,
/// `problems` names each field that was wrong. Nothing is stored when a request is refused.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var problems: [Problem] = []

    private struct Body: Encodable {
        let code: String
        let message: String
        let problems: [Problem]
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try IntakeAPI.json(Body(code: code, message: message, problems: problems), status: status)
    }

    static func validation(_ failure: ValidationFailure) -> APIError {
        let first = failure.problems.first
        let code = failure.problems.count == 1 ? first?.code ?? "invalid" : "validation_failed"
        return APIError(status: .unprocessableContent, code: code, message: failure.description, problems: failure.problems)
    }

    static func badRequest(_ code: String, _ message: String, field: String? = nil) -> APIError {
        APIError(status: .badRequest, code: code, message: message,
                 problems: [Problem(field: field, code: code, message: message)])
    }

    static func forbidden(_ role: StaffRole, _ step: String) -> APIError {
        APIError(status: .forbidden, code: "forbidden", message: "a \(role.rawValue.replacingOccurrences(of: "_", with: " ")) may not \(step)")
    }

    static func notFound(_ what: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: "\(what) not found")
    }

    init(status: HTTPResponse.Status, code: String, message: String, problems: [Problem] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems
    }

    init(_ error: DeskError) {
        switch error {
        case .unknownProperty:
            self.init(status: .unprocessableContent, code: "unknown_property", message: error.description,
                      problems: [Problem(field: "property", code: "unknown_property", message: error.description)])
        case .notFound(let what):
            self.init(status: .notFound, code: "not_found", message: "\(what) not found")
        case .idempotencyKeyReused:
            self.init(status: .unprocessableContent, code: "idempotency_key_reused", message: error.description,
                      problems: [Problem(field: "Idempotency-Key", code: "idempotency_key_reused", message: error.description)])
        case .illegal(let transition):
            self.init(status: .conflict, code: "illegal_transition", message: transition.reason)
        }
    }
}
