import Foundation
import Postgres
import Schema
import Testing

extension RealServers {
    @Suite("PostgreSQL")
    struct PostgresTests {
        @Test func aTransactionThatThrowsLeavesNoTrace() async throws {
            let db = try await Servers.database()
            let name = "t_\(Servers.unique())"
            try await db.execute("CREATE TABLE \(name) (id int PRIMARY KEY)")
            await #expect(throws: SetupError.self) {
                try await db.withTransaction { tx in
                    try tx.execute("INSERT INTO \(name) VALUES (1)")
                    throw SetupError("business rule failed")
                }
            }
            #expect(try await db.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 0)
            // The connection is clean afterwards: a new transaction commits.
            try await db.withTransaction { try $0.execute("INSERT INTO \(name) VALUES (2)") }
            #expect(try await db.query("SELECT id FROM \(name)").map { try $0.decode(0, as: Int.self) } == [2])
        }

        @Test func serverErrorsCarryTheirSQLState() async throws {
            let db = try await Servers.database()
            let name = "t_\(Servers.unique())"
            try await db.execute("CREATE TABLE \(name) (id int PRIMARY KEY)")
            try await db.execute("INSERT INTO \(name) VALUES ($1)", [1])
            await #expect { try await db.execute("INSERT INTO \(name) VALUES ($1)", [1]) } throws: { error in
                guard let e = error as? PostgresError else { return false }
                return e.isUniqueViolation && e.constraint == "\(name)_pkey" && e.kind == .server
            }
            await #expect { try await db.query("SELECT $1::int", ["twelve"]) } throws: { error in
                (error as? PostgresError)?.sqlState == "22P02"
            }
            await #expect { try await db.query("SELEKT 1") } throws: { error in
                (error as? PostgresError)?.sqlState == "42601"
            }
        }

        @Test func parametersAreNeverSpliced() async throws {
            let db = try await Servers.database()
            let hostile = "x'); DROP TABLE outbox; --"
            let back = try await db.query("SELECT $1::text", [hostile])[0].decode(0, as: String.self)
            #expect(back == hostile)
            #expect(try await db.query("SELECT to_regclass('outbox') IS NOT NULL")[0].decode(0, as: Bool.self))
        }

        @Test func typedValuesRoundTrip() async throws {
            let db = try await Servers.database()
            let id = UUID()
            let when = Date(timeIntervalSince1970: 1_790_818_200.123456)
            let row = try await db.query(
                "SELECT $1::uuid, $2::timestamptz, $3::boolean, $4::bigint, $5::jsonb, NULL::text, $6::numeric(12,2)",
                [id, when, true, Int64.max, PostgresJSON(text: #"{"a": [1, 2]}"#), "12.50"])[0]
            #expect(try row.decode(0, as: UUID.self) == id)
            #expect(abs(try row.decode(1, as: Date.self).timeIntervalSince(when)) < 0.000_001)
            #expect(try row.decode(2, as: Bool.self))
            #expect(try row.decode(3, as: Int64.self) == .max)
            #expect(try row.decode(4, as: PostgresJSON.self).text == #"{"a": [1, 2]}"#)
            #expect(try row.decode(5, as: String?.self) == nil)
            #expect(try row.decode(6, as: String.self) == "12.50")
            #expect(throws: PostgresError.self) { try row.decode(5, as: String.self) }
        }

        @Test func writesQueuedInATransactionCommitTogetherOrNotAtAll() async throws {
            let db = try await Servers.database()
            let name = "t_\(Servers.unique())"
            try await db.execute("CREATE TABLE \(name) (id int PRIMARY KEY)")
            try await db.withTransaction { c in
                for i in 1...1_000 { try c.executeLater("INSERT INTO \(name) VALUES ($1)", [i]) }
                // A read sends what is queued ahead of it, and sees it.
                #expect(try c.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 1_000)
                try c.executeLater("INSERT INTO \(name) VALUES ($1)", [1_001])
            }
            #expect(try await db.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 1_001)
            // A queued write that fails fails the commit, and nothing of that transaction stays.
            await #expect { try await db.withTransaction { c in
                try c.executeLater("INSERT INTO \(name) VALUES ($1)", [2_000])
                try c.executeLater("INSERT INTO \(name) VALUES ($1)", [5])
                try c.executeLater("INSERT INTO \(name) VALUES ($1)", [2_001])
            } } throws: { ($0 as? PostgresError)?.isUniqueViolation == true }
            #expect(try await db.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 1_001)
            // The connection is usable afterwards: the failed transaction was rolled back.
            try await db.withTransaction { c in try c.executeLater("INSERT INTO \(name) VALUES ($1)", [3_000]) }
            #expect(try await db.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 1_002)
        }

        @Test func aSessionParsesAStatementOnceAndRunsItByNameAfter() async throws {
            let db = try await Servers.database()
            let lease = try await db.lease()
            let (first, again, named) = try await lease.run { c -> (Int, Int, Int) in
                let sql = "SELECT $1::int + 1"
                let first = try c.query(sql, [1])[0].decode(0, as: Int.self)
                let again = try c.query(sql, [41])[0].decode(0, as: Int.self)
                let named = try c.query("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", [sql])[0].decode(0, as: Int.self)
                return (first, again, named)
            }
            await lease.release()
            #expect(first == 2 && again == 42)
            #expect(named == 1)
        }

        @Test func aStatementPreparedBeforeAMigrationAddsAColumnReturnsTheNewColumnAfterIt() async throws {
            let db = try await Servers.database()
            let name = "t_\(Servers.unique())"
            try await db.execute("CREATE TABLE \(name) (id int PRIMARY KEY)")
            try await db.execute("INSERT INTO \(name) VALUES (1)")
            let lease = try await db.lease()
            // Before the migration the row has no such column.
            let before = try await lease.run { c -> Bool in
                let row = try c.query("SELECT * FROM \(name)")[0]
                do { _ = try row.decode("note", as: String?.self) } catch { return try row.decode("id", as: Int.self) == 1 }
                return false
            }
            try await db.execute("ALTER TABLE \(name) ADD COLUMN note text DEFAULT 'added'")
            let after = try await lease.run { try $0.query("SELECT * FROM \(name)")[0].decode("note", as: String.self) }
            await lease.release()
            #expect(before)
            #expect(after == "added")
        }

        @Test func aStatementRefusedInATransactionStillGivesItsOwnErrorTheNextTime() async throws {
            let db = try await Servers.database()
            let name = "t_\(Servers.unique())"
            try await db.execute("CREATE TABLE \(name) (id int PRIMARY KEY)")
            let lease = try await db.lease()
            let states = try await lease.run { c -> [String?] in
                var states: [String?] = []
                for _ in 0..<2 {
                    do {
                        try c.transaction { tx in
                            try tx.executeLater("INSERT INTO \(name) VALUES ($1)", [1])
                            try tx.query("SELEKT 1")
                        }
                    } catch let error as PostgresError { states.append(error.sqlState) }
                }
                try c.execute("INSERT INTO \(name) VALUES ($1)", [1])
                return states
            }
            await lease.release()
            #expect(states == ["42601", "42601"])
            #expect(try await db.query("SELECT count(*) FROM \(name)")[0].decode(0, as: Int.self) == 1)
        }

        @Test func notifyWakesAListener() async throws {
            let db = try await Servers.database()
            let channel = "test_\(Servers.unique())"
            let listener = PostgresListener(configuration: try Servers.postgresConfiguration(), channels: [channel], logger: Servers.logger)
            defer { listener.stop() }
            var events = listener.events.makeAsyncIterator()
            #expect(await events.next() == .connected)
            try await db.execute("SELECT pg_notify($1, $2)", [channel, "hello"])
            #expect(await events.next() == .notification(PostgresNotification(channel: channel, payload: "hello")))
        }

        @Test func thePoolAndListenersReconnectAfterTheServerRestarts() async throws {
            let db = try await Servers.database(size: 2)
            let channel = "test_\(Servers.unique())"
            let listener = PostgresListener(configuration: try Servers.postgresConfiguration(), channels: [channel], logger: Servers.logger)
            defer { listener.stop() }
            var events = listener.events.makeAsyncIterator()
            #expect(await events.next() == .connected)
            _ = try await db.query("SELECT 1")
            try await Servers.stack("restart-postgres")
            // The first use of a connection the restart broke fails as a connection problem…
            var recovered = false
            for _ in 0..<50 {
                do {
                    _ = try await db.query("SELECT 1")
                    recovered = true
                    break
                } catch let error as PostgresError {
                    #expect(error.isConnectionProblem, "\(error)")
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            // …and the pool then works again without being rebuilt.
            #expect(recovered)
            for _ in 0..<4 { _ = try await db.query("SELECT 1") }
            #expect(await events.next() == .connected, "the listener reconnected and said so")
            try await db.execute("SELECT pg_notify($1, 'after')", [channel])
            #expect(await events.next() == .notification(PostgresNotification(channel: channel, payload: "after")))
        }

        @Test func aTransactionWhoseConnectionDiesIsRolledBackNotFinishedOnANewConnection() async throws {
            let db = try await Servers.database(size: 1)
            defer { db.shutdown() }
            let tag = Servers.unique()
            try await db.execute("CREATE TABLE IF NOT EXISTS test_pinned (tag text NOT NULL, step int NOT NULL)")
            await #expect(throws: PostgresError.self) {
                try await db.withTransaction { c in
                    try c.execute("INSERT INTO test_pinned VALUES ($1, 1)", [tag])
                    // The server ends this session mid-transaction.
                    _ = try? c.query("SELECT pg_terminate_backend(pg_backend_pid())")
                    try c.execute("INSERT INTO test_pinned VALUES ($1, 2)", [tag])
                }
            }
            // Neither step is on the record: the second did not run in autocommit on a new connection.
            #expect(try await db.query("SELECT count(*) FROM test_pinned WHERE tag = $1", [tag])[0].decode(0, as: Int.self) == 0)
            // And the pool's next use reconnects as usual.
            #expect(try await db.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
        }

        @Test func aWrongDatabaseAddressFailsNamingTheURLWithoutThePassword() async throws {
            var config = try Servers.postgresConfiguration()
            config.port = 1
            let db = PostgresClient(configuration: config, size: 1, logger: Servers.logger)
            defer { db.shutdown() }
            await #expect { try await db.checkConnection() } throws: { error in
                let text = "\(error)"
                return (error as? PostgresError)?.kind == .connection && text.contains("127.0.0.1:1/") && !text.contains(":\(config.password ?? "§")@")
            }
        }
    }

    @Suite("Migrations")
    struct MigrationTests {
        @Test func servicesMigratingAtOnceApplyEachVersionOnce() async throws {
            let base = 900_000 + Int.random(in: 0..<90_000) * 10
            let table = "t_\(Servers.unique())"
            let migrations = try Migration.bundled() + [
                Migration(version: base, name: "create", sql: "CREATE TABLE \(table) (id int)"),
                Migration(version: base + 1, name: "seed", sql: "INSERT INTO \(table) VALUES (1); INSERT INTO \(table) VALUES (2);"),
            ]
            let clients = try (0..<3).map { _ in PostgresClient(configuration: try Servers.postgresConfiguration(), size: 1, logger: Servers.logger) }
            defer { clients.forEach { $0.shutdown() } }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in clients { group.addTask { try await Migrator.migrate(client, migrations: migrations, logger: Servers.logger) } }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.filter { $0 >= base }.sorted() == [base, base + 1])
            #expect(try await clients[0].query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self) == 2)
        }

        @Test func anAppliedMigrationWhoseFileChangedStopsTheMigrator() async throws {
            let db = try await Servers.database()
            let version = 990_000 + Int.random(in: 0..<9_000)
            let table = "t_\(Servers.unique())"
            try await Migrator.migrate(db, migrations: [Migration(version: version, name: "x", sql: "CREATE TABLE \(table) (id int)")], logger: Servers.logger)
            await #expect(throws: MigrationError.checksumMismatch(version: version, name: "x")) {
                try await Migrator.migrate(db, migrations: [Migration(version: version, name: "x", sql: "CREATE TABLE \(table) (id bigint)")], logger: Servers.logger)
            }
        }

        @Test func aFailingMigrationRollsBackAndIsNotRecorded() async throws {
            let db = try await Servers.database()
            let version = 980_000 + Int.random(in: 0..<9_000)
            let table = "t_\(Servers.unique())"
            await #expect(throws: PostgresError.self) {
                try await Migrator.migrate(db, migrations: [Migration(version: version, name: "broken",
                                                                      sql: "CREATE TABLE \(table) (id int); SELECT 1/0;")], logger: Servers.logger)
            }
            #expect(try await db.query("SELECT to_regclass($1) IS NULL", [table])[0].decode(0, as: Bool.self))
            #expect(try await db.query("SELECT 1 FROM schema_migrations WHERE version = $1", [version]).isEmpty)
        }
    }
}
