/// The statements one session has prepared, by their text.
///
/// A statement's first run on a session prepares it, in the same pipeline as the run itself
/// (no extra round trip); later runs send only its name and parameters. PostgreSQL then parses
/// and analyses it once per session rather than every time, and under `plan_cache_mode = auto`
/// keeps a generic plan once five custom plans have cost no less. At most `limit` texts are
/// prepared per session; beyond that a statement runs unnamed, as before. Pure bookkeeping: the
/// connection does the sending.
struct PreparedStatements {
    enum Plan: Equatable {
        /// Prepare it under this name, then run it by name.
        case prepare(String)
        /// Prepared already (or earlier in the same pipeline): run it by name.
        case run(String)
        /// Over the limit: send the text with its parameters.
        case unnamed
    }

    /// What one result in a pipeline answers.
    enum Answer {
        case prepared(String, sql: String)
        case statement(Int, sql: String)
    }

    static let defaultLimit = 256
    let limit: Int
    private var names: [String: String] = [:]
    private var counter = 0

    init(limit: Int = PreparedStatements.defaultLimit) { self.limit = limit }

    var count: Int { names.count }

    mutating func plan(_ sql: String) -> Plan {
        if let name = names[sql] { return .run(name) }
        guard names.count < limit else { return .unnamed }
        counter += 1
        let name = "propdesk_\(counter)"
        names[sql] = name
        return .prepare(name)
    }

    /// The server's answer to preparing `name`: a refused (or skipped) one is prepared afresh,
    /// under a new name, the next time.
    mutating func settle(_ sql: String, name: String, prepared: Bool) {
        if !prepared, names[sql] == name { names[sql] = nil }
    }

    /// Prepares `sql` again, under a new name, on its next use.
    mutating func forget(_ sql: String) { names[sql] = nil }
}
