import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The five real executables, started as processes the way the run script starts them.
extension RealServers {
    @Suite("Service processes")
    struct ServiceProcessTests {
        static let services = ["intake", "dispatch", "escalation", "notification", "billing"]

        static func binary(_ name: String) throws -> String {
            URL(fileURLWithPath: try Servers.required("PROPDESK_BIN_DIR")).appendingPathComponent(name).path
        }

        /// The environment a process of ours runs with: as `service` (intake, …, or worker, the
        /// workers' CLI), with that service's own PostgreSQL role and RabbitMQ user, from the
        /// files `deploy/local/stack service-env` wrote — never the owner's.
        static func environment(service: String, _ extra: [String: String] = [:]) -> [String: String] {
            var env = ProcessInfo.processInfo.environment
            env["PROPDESK_LOG_LEVEL"] = "warning"
            env["PROPDESK_DATABASE_URL"] = nil
            env["PROPDESK_AMQP_URL"] = nil
            let secrets = (env["PROPDESK_STACK_DIR"] ?? "") + "/secrets"
            env["PROPDESK_AMQP_URL_FILE"] = "\(secrets)/\(service)-amqp.url"
            if service != "worker" { env["PROPDESK_DATABASE_URL_FILE"] = "\(secrets)/\(service)-database.url" }
            env.merge(extra) { $1 }
            // A URL a test gives itself replaces the service's file.
            for name in ["PROPDESK_AMQP_URL", "PROPDESK_DATABASE_URL"] where extra[name] != nil { env[name + "_FILE"] = nil }
            return env
        }

        static func waitReady(port: Int, timeout: Duration = .seconds(30)) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let (data, response) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health/ready")!),
                   (response as? HTTPURLResponse)?.statusCode == 200, String(decoding: data, as: UTF8.self).contains("\"ready\"") {
                    return true
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        @Test func allFiveServicesStartAnswerAPingThroughTheBrokerAndStopCleanlyOnSIGTERM() async throws {
            var processes: [Subprocess] = []
            for (i, name) in Self.services.enumerated() {
                processes.append(try Subprocess(try Self.binary(name), ["serve"],
                                                environment: Self.environment(service: Self.services[i], ["PROPDESK_HTTP_PORT": "\(28_080 + i)"])))
            }
            for i in Self.services.indices {
                #expect(try await Self.waitReady(port: 28_080 + i), "\(Self.services[i]) became ready: \(processes[i].output)")
            }
            let ping = try await Subprocess.run(try Self.binary("intake"), ["ping", "--timeout", "20"])
            #expect(ping.status == 0, "\(ping.output)")
            // Each service's own line says it handled the ping (a "NO ANSWER" line names it too).
            let lines = ping.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            for name in Self.services {
                #expect(lines.contains { $0.hasPrefix("\(name) ") && $0.contains("handled after") }, "\(name) answered: \(ping.output)")
            }
            for p in processes { p.signal(SIGTERM) }
            for (name, p) in zip(Self.services, processes) {
                let status = try await p.wait(timeout: .seconds(15))
                #expect(status == 0, "\(name) exited cleanly after SIGTERM: \(p.output)")
            }
        }

        @Test func aServiceWithAWrongBrokerAddressExitsNamingTheSetting() async throws {
            let result = try await Subprocess.run(try Self.binary("billing"), ["serve"], environment: Self.environment(service: "billing", [
                "PROPDESK_AMQP_URL": "amqp://propdesk:propdesk@127.0.0.1:1/propdesk", "PROPDESK_HTTP_PORT": "28090",
            ]), timeout: .seconds(60))
            #expect(result.status != 0)
            #expect(result.output.contains("PROPDESK_AMQP_URL"), "\(result.output)")
            #expect(!result.output.contains("propdesk:propdesk@"), "the password is not printed")
        }

        @Test func aMissingSettingIsNamedBeforeAnythingConnects() async throws {
            let result = try await Subprocess.run(try Self.binary("dispatch"), ["serve"], environment: ["PATH": "/usr/bin:/bin"])
            #expect(result.status != 0)
            #expect(result.output.contains("PROPDESK_AMQP_URL: is required and not set"), "\(result.output)")
            #expect(result.output.contains("PROPDESK_DATABASE_URL: is required and not set"), "\(result.output)")
        }
    }
}
