import ArgumentParser
import Foundation

/// A type that names one PropDesk service; its executable's `@main` runs ``ServiceCommand``.
public protocol PropDeskService {
    static var definition: ServiceDefinition { get }
}

/// `<service> [serve]`, `<service> migrate`, `<service> ping`.
public struct ServiceCommand<S: PropDeskService>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: S.definition.name, abstract: S.definition.summary,
            discussion: "Configuration comes from PROPDESK_* environment variables; see README.md.",
            subcommands: [Serve.self, Migrate.self, Ping.self], defaultSubcommand: Serve.self)
    }

    public init() {}

    public struct Serve: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Run the service until SIGTERM or SIGINT (the default).")
        }
        public init() {}
        public func run() async throws { try await ServiceRunner.serve(S.definition) }
    }

    public struct Migrate: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Apply pending database migrations and exit (safe to run concurrently).")
        }
        public init() {}
        public func run() async throws { try await ServiceRunner.migrate(service: S.definition.name) }
    }

    public struct Ping: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Send a system.ping event through the outbox and show which services handled it.")
        }
        @Option(help: "Seconds to wait for every service to answer.") var timeout: Int = 10
        public init() {}
        public func run() async throws { try await ServiceRunner.ping(service: S.definition.name, timeout: .seconds(timeout)) }
    }
}
