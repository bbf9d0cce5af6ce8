import Domain
import Foundation
import Messaging
import ContractSupport
import Testing
@testable import ServiceKit

@Suite("Configuration")
struct SettingsTests {
    let minimal = [
        "PROPDESK_AMQP_URL": "amqp://u:p@127.0.0.1:25672/propdesk",
        "PROPDESK_DATABASE_URL": "postgres://u:p@127.0.0.1:25432/propdesk",
    ]

    @Test func theTwoURLsAreEnoughAndEverythingElseHasADefault() throws {
        let s = try Settings.load(service: "dispatch", defaultHTTPPort: 8081, environment: minimal)
        #expect(s.amqp.port == 25672)
        #expect(s.database.port == 25432)
        #expect(s.httpPort == 8081)
        #expect(s.databasePoolSize == 4)
        #expect(s.prefetch == 50)
        #expect(s.queues == QueueArguments(type: .quorum, deliveryLimit: 5))
        #expect(s.migrateOnStart)
        #expect(s.amqp.connectionName.hasPrefix("dispatch@"))
        #expect(s.quietHours == .standard)
        var env = minimal
        env["PROPDESK_QUIET_HOURS"] = "22:00-07:30"
        #expect(try Settings.load(service: "intake", defaultHTTPPort: 8080, environment: env).quietHours == QuietHours("22:00-07:30"))
    }

    @Test func reportsReadOnAReadOnlyConnectionWithoutJITToTheDatabaseOrTheStandbyNamed() throws {
        let same = try Settings.load(service: "intake", defaultHTTPPort: 8080, environment: minimal)
        #expect(same.reportsDatabase.port == same.database.port)
        #expect(same.reportsDatabase.sessionSettings["default_transaction_read_only"] == "on")
        #expect(same.reportsDatabase.sessionSettings["jit"] == "off")
        #expect(same.database.sessionSettings["default_transaction_read_only"] == nil && same.database.sessionSettings["jit"] == nil)
        var env = minimal
        env["PROPDESK_REPORTS_DATABASE_URL"] = "postgres://reader:pw@127.0.0.1:25433/propdesk"
        let standby = try Settings.load(service: "intake", defaultHTTPPort: 8080, environment: env)
        #expect(standby.reportsDatabase.port == 25433 && standby.database.port == 25432)
        #expect(standby.reportsDatabase.sessionSettings["default_transaction_read_only"] == "on")
    }

    @Test func missingURLsAreBothNamed() {
        #expect(throws: ConfigurationError(problems: [
            "PROPDESK_AMQP_URL: is required and not set (or set PROPDESK_AMQP_URL_FILE to a file holding it)",
            "PROPDESK_DATABASE_URL: is required and not set (or set PROPDESK_DATABASE_URL_FILE to a file holding it)",
        ])) { try Settings.load(service: "x", defaultHTTPPort: 1, environment: [:]) }
    }

    @Test func aSecretCanComeFromAFileAndAnUnreadableOneIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("propdesk-secret-\(UUID())").path
        try Data("postgres://u:secret@127.0.0.1:25432/propdesk\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["PROPDESK_AMQP_URL": "amqp://u:p@127.0.0.1:25672/propdesk", "PROPDESK_DATABASE_URL_FILE": path]
        #expect(try Settings.load(service: "x", defaultHTTPPort: 1, environment: env).database.password == "secret")
        #expect(throws: ConfigurationError(problems: ["PROPDESK_DATABASE_URL_FILE: cannot read /nonexistent/secret"])) {
            try Settings.load(service: "x", defaultHTTPPort: 1, environment: ["PROPDESK_AMQP_URL": "amqp://u:p@127.0.0.1:25672/propdesk",
                                                                               "PROPDESK_DATABASE_URL_FILE": "/nonexistent/secret"])
        }
        var both = env
        both["PROPDESK_DATABASE_URL"] = "postgres://u:other@127.0.0.1:25432/propdesk"
        #expect(throws: ConfigurationError(problems: ["PROPDESK_DATABASE_URL: set PROPDESK_DATABASE_URL or PROPDESK_DATABASE_URL_FILE, not both"])) {
            try Settings.load(service: "x", defaultHTTPPort: 1, environment: both)
        }
    }

    @Test func migrateAndPingNeedOnlyTheDatabaseURL() throws {
        let env = ["PROPDESK_DATABASE_URL": "postgres://u:p@127.0.0.1:25432/propdesk"]
        #expect(try Settings.load(service: "intake", defaultHTTPPort: 1, environment: env, needsBroker: false).database.port == 25432)
        #expect(throws: ConfigurationError.self) {
            try Settings.load(service: "intake", defaultHTTPPort: 1, environment: env.merging(["PROPDESK_AMQP_URL": "http://x"]) { $1 }, needsBroker: false)
        }
    }

    @Test func everyMalformedValueIsReportedAtOnceByName() throws {
        var env = minimal
        env["PROPDESK_HTTP_PORT"] = "70000"
        env["PROPDESK_LOG_LEVEL"] = "loud"
        env["PROPDESK_QUEUE_TYPE"] = "stream"
        env["PROPDESK_MIGRATE_ON_START"] = "maybe"
        env["PROPDESK_DATABASE_URL"] = "mysql://x"
        env["PROPDESK_QUIET_HOURS"] = "late"
        do {
            _ = try Settings.load(service: "x", defaultHTTPPort: 1, environment: env)
            Issue.record("accepted malformed settings")
        } catch {
            let named = error.problems.map { String($0.prefix { $0 != ":" }) }
            #expect(Set(named) == ["PROPDESK_HTTP_PORT", "PROPDESK_LOG_LEVEL", "PROPDESK_QUEUE_TYPE", "PROPDESK_MIGRATE_ON_START", "PROPDESK_DATABASE_URL",
                                 "PROPDESK_QUIET_HOURS"])
            #expect(error.description.contains("got \"70000\""))
        }
    }

    @Test func theREADMEShowsEverySettingTheServicesReadWithItsDefault() throws {
        let read = Settings.variables
        #expect(read.count >= 14, "\(read.map(\.name))")
        #expect(try ReadmeSettings().problems(for: read.map { ($0.name, $0.defaultValue) },
                                             perService: ["PROPDESK_HTTP_PORT", "PROPDESK_INSTANCE"]) == [])
    }
}
