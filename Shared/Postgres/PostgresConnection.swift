import CLibPQ
import Foundation

/// An error from PostgreSQL or libpq. `sqlState` is the five-character SQLSTATE for server errors.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Cannot connect, or the connection broke mid-query: retrying later may succeed.
        case connection
        /// The server refused the statement: `sqlState` says why.
        case server
        /// A result value could not be read as the requested type.
        case decoding
        /// The client was closed.
        case closed
    }

    public let kind: Kind
    public let message: String
    public let sqlState: String?
    public let detail: String?
    public let constraint: String?

    public init(kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil, constraint: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.constraint = constraint
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// Possibly a prepared statement whose result shape the schema changed since it was prepared
    /// ("cached plan must not change result type"). The code is `feature_not_supported`, which
    /// other refusals share, and the message is translated with the server's `lc_messages`, so
    /// the code alone decides: preparing again and retrying once costs those others nothing.
    public var isStalePlan: Bool { sqlState == "0A000" }
    public var isConnectionProblem: Bool { kind == .connection || (sqlState?.hasPrefix("08") ?? false) || sqlState == "57P01" }

    public var description: String {
        var s = sqlState.map { "\($0): \(message)" } ?? message
        if let detail { s += " (\(detail))" }
        return s
    }
}

/// One result row; columns are read by index or name as typed values.
public struct PostgresRow: Sendable {
    let values: [String?]
    let columns: PostgresColumns

    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard let text = values[column] else {
            throw PostgresError(kind: .decoding, message: "column \(columns.names[column]) is NULL, expected \(T.self)")
        }
        do { return try T(postgresText: text) } catch {
            throw PostgresError(kind: .decoding, message: "column \(columns.names[column]): \(error)")
        }
    }

    public func decode<T: PostgresDecodable>(_ column: Int, as type: T?.Type) throws -> T? {
        guard values[column] != nil else { return nil }
        return try decode(column, as: T.self)
    }

    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try decode(try columns.index(name), as: type)
    }

    public func decode<T: PostgresDecodable>(_ name: String, as type: T?.Type) throws -> T? {
        try decode(try columns.index(name), as: type)
    }

    public func isNull(_ column: Int) -> Bool { values[column] == nil }
}

final class PostgresColumns: Sendable {
    let names: [String]
    private let byName: [String: Int]
    init(names: [String]) {
        self.names = names
        var map: [String: Int] = [:]
        for (i, n) in names.enumerated() where map[n] == nil { map[n] = i }
        byName = map
    }
    func index(_ name: String) throws -> Int {
        guard let i = byName[name] else { throw PostgresError(kind: .decoding, message: "no column named \(name)") }
        return i
    }
}

/// A libpq connection. Not thread-safe: the client runs each one on a thread of its own and
/// hands it to closures running there.
public final class PostgresConnection {
    public let configuration: PostgresConfiguration
    private var conn: OpaquePointer?
    /// True between `BEGIN` and `COMMIT`/`ROLLBACK` issued by ``PostgresClient/withTransaction(_:)``.
    var inTransaction = false
    /// Channels to signal in this process once the current transaction commits.
    private var pendingSignals: Set<String> = []
    /// Values read once per transaction (``memo(_:_:)``).
    private var memos: [String: Any] = [:]
    private let signals: CommitSignals?

    init(configuration: PostgresConfiguration, signals: CommitSignals? = nil) {
        self.configuration = configuration
        self.signals = signals
    }

    /// Tells this process's listeners on `channel` (``PostgresClient/commitSignals(_:)``) once
    /// the current transaction commits — an in-process NOTIFY, with no trip through the server.
    /// Nothing is signalled if the transaction rolls back. Outside a transaction: at once.
    public func signalAfterCommit(_ channel: String) {
        if inTransaction {
            pendingSignals.insert(channel)
        } else {
            signals?.signal([channel])
        }
    }

    func transactionEnded(committed: Bool) {
        transactionConn = nil
        if committed, !pendingSignals.isEmpty { signals?.signal(pendingSignals) }
        pendingSignals = []
        memos = [:]
    }

    /// `compute`'s value, computed once per transaction under `key`: when a consumer handles
    /// several events in one transaction, each lookup (a property's roster, say) is read once.
    /// Outside a transaction it computes every time.
    public func memo<T>(_ key: String, _ compute: () throws -> T) rethrows -> T {
        guard inTransaction else { return try compute() }
        if let value = memos[key] as? T { return value }
        let value = try compute()
        memos[key] = value
        return value
    }

    deinit { close() }

    var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    func open() throws {
        close()
        let params = configuration.connectionParameters
        var keys = params.map { strdup($0.0) }
        var values = params.map { strdup($0.1) }
        keys.append(nil)
        values.append(nil)
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let c = keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                k.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: k.count) { kp in
                    v.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: v.count) { vp in
                        PQconnectdbParams(kp, vp, 0)
                    }
                }
            }
        }
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let message = c.map { String(cString: PQerrorMessage($0)).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let c { PQfinish(c) }
            throw PostgresError(kind: .connection, message: "cannot connect to PostgreSQL at \(configuration.redactedURL): \(message)")
        }
        // Server NOTICEs ("relation already exists, skipping") are not errors: keep them off stderr.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
        conn = c
        prepared = PreparedStatements(limit: configuration.statementCacheSize)
    }

    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// The libpq connection the open transaction's statements went to. A transaction never goes
    /// on on another one: a silent reconnect mid-transaction would run the rest of it outside the
    /// transaction, committed statement by statement.
    private var transactionConn: OpaquePointer?

    private func connection() throws -> OpaquePointer {
        if inTransaction, let pinned = transactionConn {
            guard let conn, conn == pinned, PQstatus(conn) == CONNECTION_OK else {
                throw PostgresError(kind: .connection,
                                    message: "connection lost in the middle of a transaction: it is rolled back, not continued on a new connection")
            }
            return conn
        }
        if conn == nil || PQstatus(conn!) != CONNECTION_OK { try open() }
        if inTransaction { transactionConn = conn }
        return conn!
    }

    // MARK: - Queries

    /// Statements sent ahead of the next statement whose answer is needed, or the commit, in the
    /// same round trip: see ``executeLater(_:_:)``. Also holds a `BEGIN` not yet sent.
    private var queued: [Statement] = []
    typealias Statement = (sql: String, parameters: [any PostgresEncodable])

    /// Runs one parameterised statement (`$1`, `$2`, …) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> [PostgresRow] {
        try run(sql, parameters) { try Self.rows($0) }
    }

    /// Runs one parameterised statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try run(sql, parameters) { Self.affected($0) }
    }

    /// Queues a statement whose result the caller does not need. It reaches the server with the
    /// next statement that needs an answer, or with the commit, in one round trip (libpq pipeline
    /// mode), so a transaction's writes cost one round trip, not one each. If it fails, that later
    /// call throws its error, and the transaction is rolled back as usual. Outside a transaction
    /// the statement runs at once.
    public func executeLater(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws {
        guard inTransaction else {
            try execute(sql, parameters)
            return
        }
        queued.append((sql, parameters))
    }

    /// Runs a script of several statements with no parameters (migrations).
    public func executeScript(_ sql: String) throws {
        try sendQueued()
        let c = try connection()
        var result = PQexec(c, sql)
        defer { PQclear(result) }
        try check(result, c)
        // PQexec returns only the last result; there is nothing more to read.
        while let next = PQgetResult(c) {
            PQclear(result)
            result = next
            try check(result, c)
        }
    }

    /// Sends what is queued, if anything, and waits for it.
    private func sendQueued() throws {
        guard !queued.isEmpty else { return }
        try roundTrip(takeQueued()) { _, _ in }
    }

    private func takeQueued() -> [Statement] {
        defer { queued = [] }
        return queued
    }

    /// The `BEGIN` that ``PostgresConnection/begin()`` queued has not been sent yet.
    var beginIsQueued: Bool { queued.first?.sql == "BEGIN" }
    var onlyBeginIsQueued: Bool { queued.count == 1 && beginIsQueued }

    func dropQueued() { queued = [] }

    /// Statements prepared on this session, by their text (see ``PreparedStatements``); a new
    /// session (``open()``) starts with none.
    private lazy var prepared = PreparedStatements(limit: configuration.statementCacheSize)

    /// Sends `statements` in one pipeline and calls `each` with every statement's result in order.
    /// Throws the first error; the statements after it are skipped by the server.
    private func roundTrip(_ statements: [Statement], _ each: (Int, OpaquePointer) throws -> Void) throws {
        guard !statements.isEmpty else { return }
        let c = try connection()
        guard PQenterPipelineMode(c) == 1 else { throw connectionError(c, "cannot enter pipeline mode") }
        defer { PQexitPipelineMode(c) }
        // What each result the server sends back answers, in order.
        var answers: [PreparedStatements.Answer] = []
        answers.reserveCapacity(statements.count)
        for (index, statement) in statements.enumerated() {
            let sent: Int32
            switch prepared.plan(statement.sql) {
            case .prepare(let name):
                guard PQsendPrepare(c, name, statement.sql, 0, nil) == 1 else { throw connectionError(c, "preparing a statement") }
                answers.append(.prepared(name, sql: statement.sql))
                fallthrough
            case .run(let name):
                sent = withParameters(statement.parameters) { count, values in
                    PQsendQueryPrepared(c, name, count, values, nil, nil, 0)
                }
            case .unnamed:
                sent = withParameters(statement.parameters) { count, values in
                    PQsendQueryParams(c, statement.sql, count, nil, values, nil, nil, 0)
                }
            }
            guard sent == 1 else { throw connectionError(c, "sending a pipelined statement") }
            answers.append(.statement(index, sql: statement.sql))
        }
        guard PQpipelineSync(c) == 1 else { throw connectionError(c, "syncing the pipeline") }
        var next = 0
        var firstError: Error?
        while true {
            guard let result = PQgetResult(c) else {
                // nil separates one statement's results from the next
                if PQstatus(c) != CONNECTION_OK { throw connectionError(c, "connection lost in pipeline") }
                continue
            }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            let answer = next < answers.count ? answers[next] : nil
            next += 1
            let ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
            switch answer {
            case .prepared(let name, let sql)?:
                // Only a statement the server accepted is run by name next time.
                prepared.settle(sql, name: name, prepared: ok)
                if !ok, status != PGRES_PIPELINE_ABORTED, firstError == nil { firstError = serverError(result, c) }
            case .statement(let index, let sql)?:
                if ok {
                    if firstError == nil {
                        do { try each(index, result) } catch { firstError = error }
                    }
                } else if status != PGRES_PIPELINE_ABORTED {
                    let error = serverError(result, c)
                    // A plan the schema has since changed under ("cached plan must not change
                    // result type"), or a name the session lost, is prepared again on next use.
                    if error.isStalePlan || error.sqlState == "26000" { prepared.forget(sql) }
                    if firstError == nil { firstError = error }
                }
            case nil:
                if !ok, status != PGRES_PIPELINE_ABORTED, firstError == nil { firstError = serverError(result, c) }
            }
            PQclear(result)
            if PQstatus(c) != CONNECTION_OK {
                throw connectionError(c, "connection lost in pipeline")
            }
        }
        if let firstError { throw firstError }
    }

    private func run<T>(_ sql: String, _ parameters: [any PostgresEncodable], _ body: (OpaquePointer) throws -> T) throws -> T {
        // Every statement goes through the pipeline: one not yet prepared on this session is
        // prepared in the same round trip as its first run.
        let statements = takeQueued() + [(sql, parameters)]
        func send() throws -> T {
            var value: T?
            try roundTrip(statements) { index, result in
                if index == statements.count - 1 { value = try body(result) }
            }
            guard let value else { throw PostgresError(kind: .connection, message: "no result for the last pipelined statement") }
            return value
        }
        do {
            return try send()
        } catch let error as PostgresError where error.isStalePlan && statements.count == 1 && !inTransaction {
            // Prepared before a migration changed what it returns: prepared afresh, it runs once
            // more. (In a transaction the error stands: the transaction is already aborted.)
            return try send()
        }
    }

    private static func affected(_ result: OpaquePointer) -> Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    private func withParameters<R>(_ parameters: [any PostgresEncodable], _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        if parameters.isEmpty { return body(0, nil) }
        let texts = parameters.map { $0.postgresText.map { strdup($0) } ?? nil }
        defer { texts.forEach { free($0) } }
        return texts.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                body(Int32(buffer.count), $0)
            }
        }
    }

    private func check(_ result: OpaquePointer?, _ c: OpaquePointer) throws {
        guard let result else { throw connectionError(c, "no result") }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return
        default:
            if PQstatus(c) != CONNECTION_OK { throw connectionError(c, "connection lost") }
            throw serverError(result, c)
        }
    }

    private func serverError(_ result: OpaquePointer, _ c: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? { PQresultErrorField(result, code).map { String(cString: $0) } }
        let state = field(PROPDESK_DIAG_SQLSTATE)
        let kind: PostgresError.Kind = (state?.hasPrefix("08") ?? false) || state == "57P01" ? .connection : .server
        return PostgresError(kind: kind, message: field(PROPDESK_DIAG_MESSAGE_PRIMARY) ?? String(cString: PQerrorMessage(c)),
                             sqlState: state, detail: field(PROPDESK_DIAG_MESSAGE_DETAIL),
                             constraint: field(PROPDESK_DIAG_CONSTRAINT_NAME))
    }

    private func connectionError(_ c: OpaquePointer, _ context: String) -> PostgresError {
        let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(kind: .connection, message: "\(context): \(message)")
    }

    private static func rows(_ result: OpaquePointer) throws -> [PostgresRow] {
        let count = Int(PQntuples(result))
        let width = Int(PQnfields(result))
        let columns = PostgresColumns(names: (0..<width).map { String(cString: PQfname(result, Int32($0))) })
        var rows: [PostgresRow] = []
        rows.reserveCapacity(count)
        for r in 0..<count {
            var values: [String?] = []
            values.reserveCapacity(width)
            for f in 0..<width {
                if PQgetisnull(result, Int32(r), Int32(f)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(r), Int32(f))))
                }
            }
            rows.append(PostgresRow(values: values, columns: columns))
        }
        return rows
    }

    // MARK: - Notifications

    /// Reads input and returns the notifications received, without blocking.
    func drainNotifications() throws -> [PostgresNotification] {
        guard let c = conn else { throw PostgresError(kind: .connection, message: "not connected") }
        guard PQconsumeInput(c) == 1 else { throw connectionError(c, "listening") }
        var out: [PostgresNotification] = []
        while let n = PQnotifies(c) {
            out.append(PostgresNotification(channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }
}

public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}
