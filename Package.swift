// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PropDesk",
    // Linux only (README): the C interop and the sockets use Glibc.
    products: [
        .executable(name: "intake", targets: ["PropDeskIntake"]),
        .executable(name: "dispatch", targets: ["PropDeskDispatch"]),
        .executable(name: "escalation", targets: ["PropDeskEscalation"]),
        .executable(name: "notification", targets: ["PropDeskNotification"]),
        .executable(name: "billing", targets: ["PropDeskBilling"]),
        .executable(name: "propdesk-worker", targets: ["PropDeskWorker"]),
        .executable(name: "propdesk-admin", targets: ["PropDeskAdmin"]),
        .executable(name: "propdesk-bench", targets: ["PropDeskBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C interop: tiny system-library targets; no Swift code includes a C header directly.
        .systemLibrary(name: "CRabbitMQ", path: "Shared/CRabbitMQ", pkgConfig: "librabbitmq",
                       providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),

        // A URL's list of servers (a cluster's nodes, a primary and its standbys), pure.
        .target(name: "Endpoints", path: "Shared/Endpoints"),

        // Clients over the C libraries.
        .target(name: "AMQP", dependencies: [
            "CRabbitMQ", "Endpoints",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Shared/AMQP"),
        .target(name: "Postgres", dependencies: [
            "CLibPQ", "Endpoints",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Shared/Postgres"),

        // Pure domain: no I/O module.
        .target(name: "Domain", path: "Shared/Domain"),

        // The contracts on the wire, pure: event types, routing keys, payloads, broker names,
        // dedupe-key formats. Checked against docs/asyncapi.yaml by the contract tests.
        .target(name: "Contracts", dependencies: ["Domain"], path: "Shared/Contracts"),

        // Notification logic, pure: who is on duty, which messages an event calls for, quiet hours,
        // retries, the channels' formats, and the message templates (files).
        .target(name: "Notify", dependencies: [
            "Domain", "Contracts", .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Shared/Notify", resources: [.copy("Templates")]),

        // Schema: versioned SQL migrations and the migrator.
        .target(name: "Schema", dependencies: [
            "Postgres",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Shared/Schema", resources: [.copy("Migrations")]),

        // Messaging patterns: envelope, topology, outbox, inbox, consumer runner.
        .target(name: "Messaging", dependencies: [
            "AMQP", "Postgres", "Domain", "Contracts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Shared/Messaging"),

        // The desk: tickets, work orders, routing and their events, in PostgreSQL.
        .target(name: "Desk", dependencies: ["Domain", "Contracts", "Postgres", "Messaging"], path: "Shared/Desk"),

        // Reports from the record, read-only (they can run on a standby).
        .target(name: "Reports", dependencies: ["Domain", "Contracts", "Postgres"], path: "Shared/Reports"),

        // Identity: staff accounts, passwords (bcrypt), second factor (TOTP), sessions and
        // tokens, failed-login throttling and the audit log, in PostgreSQL.
        .target(name: "Identity", dependencies: [
            "Domain", "Postgres",
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Shared/Identity"),

        // The console's pages, pure: templates and static files (resources), the words in both
        // languages, board rows, countdown boundaries, SVG charts and the live-update fan-out.
        .target(name: "Console", dependencies: [
            "Domain", "Desk", "Reports",
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "DequeModule", package: "swift-collections"),
        ], path: "Shared/Console", resources: [.copy("Templates"), .copy("Assets")]),

        // Department workers: take work orders from a department's queue, step them through intake.
        .target(name: "DepartmentWorker", dependencies: [
            "Desk", "AMQP", "Messaging", "Domain",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Shared/DepartmentWorker"),

        // Service kit: configuration, logging, metrics, health, lifecycle, commands.
        .target(name: "ServiceKit", dependencies: [
            "AMQP", "Postgres", "Messaging", "Schema", "Domain", "Identity",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Shared/ServiceKit"),

        // The five services.
        .executableTarget(name: "PropDeskIntake", dependencies: [
            "ServiceKit", "Desk", "Reports", "Console", "Notify", "AMQP", "Messaging", "Contracts",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], path: "Services/intake"),
        .executableTarget(name: "PropDeskDispatch", dependencies: ["ServiceKit", "Desk"], path: "Services/dispatch"),
        .executableTarget(name: "PropDeskEscalation", dependencies: [
            "ServiceKit", "Desk", "Domain", "Contracts", "Messaging", "Postgres", "Reports", "Console",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], path: "Services/escalation"),
        .executableTarget(name: "PropDeskNotification", dependencies: [
            "ServiceKit", "Notify", "Domain", "Messaging", "Postgres", "Identity", "Contracts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ], path: "Services/notification"),
        .executableTarget(name: "PropDeskBilling", dependencies: [
            "ServiceKit", "Desk", "Domain", "Contracts", "Messaging", "Postgres",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], path: "Services/billing"),

        .executableTarget(name: "PropDeskWorker", dependencies: [
            "DepartmentWorker", "Desk", "Domain", "AMQP", "ServiceKit", "Contracts",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Services/worker"),

        // Accounts: the first administrator, demo accounts, role changes (audited).
        .executableTarget(name: "PropDeskAdmin", dependencies: [
            "Identity", "Domain", "Postgres", "ServiceKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Services/admin"),

        // Benchmarks: run on purpose, never as tests.
        .executableTarget(name: "PropDeskBench", dependencies: [
            "AMQP", "Postgres", "Messaging", "Schema", "CRabbitMQ", "Desk", "Domain", "LocalReceivers", "Identity", "Contracts", "Reports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "Benchmarks/PropDeskBench"),

        // Unit tests: pure logic, no I/O.
        .testTarget(name: "AMQPTests", dependencies: ["AMQP"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"]),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging"]),
        .testTarget(name: "ServiceKitTests", dependencies: ["ServiceKit", "ContractSupport", "Domain"]),
        .testTarget(name: "DomainTests", dependencies: ["Domain"]),
        .testTarget(name: "IdentityTests", dependencies: ["Identity"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "Desk", "Domain"]),
        .testTarget(name: "NotifyTests", dependencies: ["Notify", "Domain"]),
        .testTarget(name: "NotificationServiceTests", dependencies: ["PropDeskNotification", "Notify", "ServiceKit", "ContractSupport"]),
        // Contract tests: the API and the events against docs/openapi.yaml and docs/asyncapi.yaml.
        .target(name: "ContractSupport", dependencies: [.product(name: "Yams", package: "Yams")], path: "Tests/ContractSupport"),
        // A real HTTP receiver on loopback for the notification channels (tests and the bench).
        .target(name: "LocalReceivers", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/LocalReceivers"),
        .testTarget(name: "ContractTests", dependencies: ["ContractSupport", "Contracts", "Desk", "Domain", "Messaging", "Notify", "PropDeskIntake", "PropDeskBilling", "PropDeskNotification"]),
        // Integration tests: real RabbitMQ and PostgreSQL started by deploy/local/stack.
        .testTarget(name: "IntegrationTests", dependencies: [
            "AMQP", "Postgres", "Messaging", "Schema", "ServiceKit", "Desk", "Domain", "ContractSupport", "LocalReceivers", "Notify",
            "DepartmentWorker", "Identity", "PropDeskIntake", "PropDeskBilling", "Contracts",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
