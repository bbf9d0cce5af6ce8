import Foundation
import Logging
import Postgres

/// One versioned SQL file: `Migrations/NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations shipped with PropDesk, in version order.
    public static func bundled() throws -> [Migration] {
        guard let dir = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingFiles("the Migrations resource folder is not in the bundle")
        }
        return try load(directory: dir)
    }

    /// Reads `NNNN_name.sql` files from a folder; rejects duplicate versions and other names.
    public static func load(directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError.missingFiles("\(file): migration files are named NNNN_name.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError.missingFiles("two migrations have version \(a.version)")
        }
        return migrations
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingFiles(String)
    /// An applied migration's file has changed since: fix the file, never edit history.
    case checksumMismatch(version: Int, name: String)

    public var description: String {
        switch self {
        case .missingFiles(let why): "migrations: \(why)"
        case .checksumMismatch(let v, let n):
            "migration \(v) (\(n)) was changed after it was applied; add a new migration instead of editing it"
        }
    }
}

/// Applies migrations in order, each once, each in its own transaction, checksum-checked.
/// Several services may run it at the same time: a session advisory lock lets one apply while
/// the others wait and then find nothing left to do.
public enum Migrator {
    static let lockKey: Int64 = 0x5052_4F50_4445_534B  // "PROPDESK"

    /// Returns the versions this call applied.
    @discardableResult
    public static func migrate(_ client: PostgresClient, migrations: [Migration], logger: Logger) async throws -> [Int] {
        try await client.withConnection { connection in
            let checksums = try migrations.map { try connection.query("SELECT md5($1)", [$0.sql])[0].decode(0, as: String.self) }
            // A service's own role may not create anything: with nothing pending it only reads.
            if try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].decode(0, as: Bool.self) {
                var applied: [Int: String] = [:]
                for row in try connection.query("SELECT version, checksum FROM schema_migrations") {
                    applied[try row.decode(0, as: Int.self)] = try row.decode(1, as: String.self)
                }
                if zip(migrations, checksums).allSatisfy({ applied[$0.version] == $1 }) { return [] }
            }
            try connection.execute("SELECT pg_advisory_lock($1)", [lockKey])
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [lockKey]) }
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var applied: [Int: String] = [:]
            for row in try connection.query("SELECT version, checksum FROM schema_migrations") {
                applied[try row.decode(0, as: Int.self)] = try row.decode(1, as: String.self)
            }
            var done: [Int] = []
            for (migration, checksum) in zip(migrations, checksums) {
                if let existing = applied[migration.version] {
                    guard existing == checksum else {
                        throw MigrationError.checksumMismatch(version: migration.version, name: migration.name)
                    }
                    continue
                }
                try connection.transaction { tx in
                    try tx.executeScript(migration.sql)
                    try tx.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                   [migration.version, migration.name, checksum])
                }
                logger.info("applied migration", metadata: ["migration": "\(migration.version)_\(migration.name)"])
                done.append(migration.version)
            }
            return done
        }
    }
}
