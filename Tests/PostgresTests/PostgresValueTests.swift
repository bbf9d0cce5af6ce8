import Foundation
import Testing
@testable import Postgres

@Suite("PostgreSQL values and URL")
struct PostgresValueTests {
    @Test func aDatabaseURLGivesEveryPart() throws {
        let c = try PostgresConfiguration(url: "postgres://desk:p%40ss@db.internal:6432/propdesk?connect_timeout=3")
        #expect(c.host == "db.internal")
        #expect(c.port == 6432)
        #expect(c.user == "desk")
        #expect(c.password == "p@ss")
        #expect(c.database == "propdesk")
        #expect(c.connectTimeoutSeconds == 3)
        #expect(!c.redactedURL.contains("p@ss"))
    }

    @Test func aDatabaseURLCanTurnPreparedStatementsOffForAPoolerThatCannotKeepThem() throws {
        #expect(try PostgresConfiguration(url: "postgres://u@h/db").statementCacheSize == PreparedStatements.defaultLimit)
        #expect(try PostgresConfiguration(url: "postgres://u@h/db?statement_cache_size=0").statementCacheSize == 0)
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://u@h/db?statement_cache_size=-1") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://u@h/db?statement_cache_size=many") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://u@h/db?connect_timeout=99999999") }
    }

    @Test func aPrimaryAndItsStandbyAreListedSoAPromotedStandbyIsFoundWithoutReconfiguring() throws {
        let c = try PostgresConfiguration(url: "postgres://desk:pw@db1:5432,db2:5433/propdesk?target_session_attrs=read-write")
        #expect(c.endpoints.map(\.description) == ["db1:5432", "db2:5433"])
        let libpq = Dictionary(uniqueKeysWithValues: c.connectionParameters)
        #expect(libpq["host"] == "db1,db2" && libpq["port"] == "5432,5433")
        #expect(libpq["target_session_attrs"] == "read-write")
        #expect(c.redactedURL == "postgres://desk:***@db1:5432,db2:5433/propdesk?target_session_attrs=read-write")
        #expect(Dictionary(uniqueKeysWithValues: try PostgresConfiguration(url: "postgres://u@h/db").connectionParameters)["target_session_attrs"] == nil)
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://u@h/db?target_session_attrs=primary-please") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://u@db1,/db") }
    }

    @Test func badDatabaseURLsSayWhatIsWrong() {
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "mysql://h/db") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://h:5432") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://h:0/db") }
        #expect(throws: PostgresConfiguration.ParseError.self) { try PostgresConfiguration(url: "postgres://h/db?sslmode=x") }
    }

    @Test func timestamptzTextIsReadInAnyOffset() throws {
        let utc = try Date(postgresText: "2026-10-01 01:30:00.25+00")
        #expect(utc.timeIntervalSince1970 == 1_790_818_200.25)
        #expect(try Date(postgresText: "2026-10-01 09:30:00.25+08") == utc)
        #expect(try Date(postgresText: "2026-09-30 20:00:00.25-05:30") == utc)
        #expect(try Date(postgresText: "2026-10-01T01:30:00.250Z") == utc)
        #expect(throws: PostgresDecodingError.self) { try Date(postgresText: "infinity") }
        #expect(throws: PostgresDecodingError.self) { try Date(postgresText: "2026-10-01") }
    }

    @Test func datesSurviveAFormatAndParseRoundTripToTheMicrosecond() throws {
        let date = Date(timeIntervalSince1970: 1_790_818_200.123456)
        let back = try Date(postgresText: date.postgresText!)
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_001)
    }

    @Test func scalarTextFormsDecode() throws {
        #expect(try Bool(postgresText: "t"))
        #expect(try !Bool(postgresText: "f"))
        #expect(try Int(postgresText: "-42") == -42)
        #expect(try UUID(postgresText: "6f1c1c52-9d9c-4f0e-9a43-3f7f3f0c2a11").uuidString == "6F1C1C52-9D9C-4F0E-9A43-3F7F3F0C2A11")
        #expect(throws: PostgresDecodingError.self) { try Int(postgresText: "12a") }
        #expect(throws: PostgresDecodingError.self) { try Bool(postgresText: "yes") }
        #expect(try PostgresBytes(postgresText: "\\x00ff10").bytes == [0, 255, 16])
        #expect(PostgresBytes([1, 171]).postgresText == "\\x01ab")
    }

    @Test func arrayParametersQuoteAndEscapeEachElement() {
        #expect(PostgresArray([Int64(1), 2, 3]).postgresText == #"{"1","2","3"}"#)
        #expect(PostgresArray(["a\"b", "c\\d", "e,f"]).postgresText == #"{"a\"b","c\\d","e,f"}"#)
        #expect(PostgresArray([String?.none, "x"]).postgresText == #"{NULL,"x"}"#)
    }
}

@Suite("Waiting on the database's clock")
struct DatabaseInstantTests {
    let now = Date(timeIntervalSince1970: 1_796_154_000)

    @Test func theWaitIsMeasuredFromTheDatabasesNowAndCapped() {
        let soon = DatabaseInstant(instant: now.addingTimeInterval(1.2345), now: now)
        #expect(soon.pause(atMost: .seconds(5)) == .milliseconds(1_235))
        #expect(abs(soon.after(soon.pause(atMost: .seconds(5))).timeIntervalSince(now) - 1.235) < 1e-6)
        #expect(DatabaseInstant(instant: now.addingTimeInterval(60), now: now).pause(atMost: .seconds(5)) == .seconds(5))
        #expect(DatabaseInstant(instant: now.addingTimeInterval(-3), now: now).pause(atMost: .seconds(5)) == .zero)
        #expect(DatabaseInstant(instant: nil, now: now).pause(atMost: .seconds(5)) == .seconds(5))
    }
}
