import Desk
import Domain
import ServiceKit

extension APIError {
    /// The desk's refusals as their HTTP errors.
    init(_ error: DeskError) {
        switch error {
        case .unknownProperty:
            self.init(status: .unprocessableContent, code: .unknownProperty, message: error.description,
                      problems: [Problem(field: "property", code: .unknownProperty, message: error.description)])
        case .notFound(let what):
            self.init(status: .notFound, code: .notFound, message: "\(what) not found")
        case .idempotencyKeyReused:
            self.init(status: .unprocessableContent, code: .idempotencyKeyReused, message: error.description,
                      problems: [Problem(field: "Idempotency-Key", code: .idempotencyKeyReused, message: error.description)])
        case .illegal(let transition):
            self.init(status: .conflict, code: .illegalTransition, message: transition.reason)
        case .quoteNotAccepted:
            self.init(status: .conflict, code: .quoteNotAccepted, message: error.description)
        case .lockChangeIncomplete:
            self.init(status: .conflict, code: .lockChangeIncomplete, message: error.description)
        case .keyNotReturned:
            self.init(status: .conflict, code: .keyNotReturned, message: error.description)
        }
    }
}
