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

        static func binary(_ name: String) throws -> URL {
            let dir = try Servers.required("PROPDESK_BIN_DIR")
            return URL(fileURLWithPath: dir).appendingPathComponent(name)
        }

        static func start(_ name: String, port: Int, extra: [String: String] = [:], output: Pipe? = nil) throws -> Process {
            let p = Process()
            p.executableURL = try binary(name)
            var env = ProcessInfo.processInfo.environment
            env["PROPDESK_HTTP_PORT"] = "\(port)"
            env["PROPDESK_LOG_LEVEL"] = "warning"
            env.merge(extra) { $1 }
            p.environment = env
            p.standardOutput = output ?? FileHandle.nullDevice
            p.standardError = output ?? FileHandle.nullDevice
            try p.run()
            return p
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

        static func run(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
            let p = Process()
            p.executableURL = try binary(name)
            p.arguments = arguments
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }

        @Test func allFiveServicesStartAnswerAPingThroughTheBrokerAndStopCleanlyOnSIGTERM() async throws {
            var processes: [Process] = []
            defer { processes.filter(\.isRunning).forEach { $0.terminate() } }
            for (i, name) in Self.services.enumerated() {
                processes.append(try Self.start(name, port: 28_080 + i))
            }
            for i in Self.services.indices {
                #expect(try await Self.waitReady(port: 28_080 + i), "\(Self.services[i]) became ready")
            }
            let ping = try Self.run("intake", ["ping", "--timeout", "20"])
            #expect(ping.status == 0, "\(ping.output)")
            for name in Self.services {
                #expect(ping.output.contains(name) && !ping.output.contains("NO ANSWER"), "\(ping.output)")
            }
            for p in processes { p.terminate() }  // SIGTERM
            let deadline = ContinuousClock.now + .seconds(15)
            while processes.contains(where: \.isRunning), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            for (name, p) in zip(Self.services, processes) {
                #expect(!p.isRunning, "\(name) stopped within 15 s of SIGTERM")
                if !p.isRunning { #expect(p.terminationStatus == 0, "\(name) exited cleanly") }
            }
        }

        @Test func aServiceWithAWrongBrokerAddressExitsNamingTheSetting() throws {
            let p = Process()
            p.executableURL = try Self.binary("billing")
            var env = ProcessInfo.processInfo.environment
            env["PROPDESK_AMQP_URL"] = "amqp://propdesk:propdesk@127.0.0.1:1/propdesk"
            env["PROPDESK_HTTP_PORT"] = "28090"
            p.environment = env
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus != 0)
            #expect(output.contains("PROPDESK_AMQP_URL"), "\(output)")
            #expect(!output.contains("propdesk:propdesk@"), "the password is not printed")
        }

        @Test func aMissingSettingIsNamedBeforeAnythingConnects() throws {
            let p = Process()
            p.executableURL = try Self.binary("dispatch")
            p.environment = ["PATH": "/usr/bin:/bin"]
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus != 0)
            #expect(output.contains("PROPDESK_AMQP_URL: is required and not set"), "\(output)")
            #expect(output.contains("PROPDESK_DATABASE_URL: is required and not set"), "\(output)")
        }
    }
}
