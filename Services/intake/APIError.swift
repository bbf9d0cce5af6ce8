import Desk
import Domain
import ServiceKit

extension APIError {
    /// The desk's refusals as their HTTP errors.
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
