import Testing
@testable import AMQP

@Suite("Broker URL")
struct AMQPConfigurationTests {
    @Test func aFullURLGivesHostPortCredentialsAndVhost() throws {
        let c = try AMQPConfiguration(url: "amqp://desk:s3cret@mq.internal:5673/propdesk?heartbeat=30&connection_timeout=2&reply_timeout=12")
        #expect(c.host == "mq.internal")
        #expect(c.port == 5673)
        #expect(c.user == "desk")
        #expect(c.password == "s3cret")
        #expect(c.vhost == "propdesk")
        #expect(c.heartbeatSeconds == 30)
        #expect(c.connectionTimeoutSeconds == 2)
        #expect(c.replyTimeoutSeconds == 12)
    }

    @Test func missingPartsTakeTheDocumentedDefaults() throws {
        let c = try AMQPConfiguration(url: "amqp://localhost")
        #expect(c.port == 5672)
        #expect(c.user == "guest")
        #expect(c.password == "guest")
        #expect(c.vhost == "/")
        #expect(c.heartbeatSeconds == 10)
        #expect(c.replyTimeoutSeconds == 30)
    }

    @Test func theDefaultVhostIsWrittenPercentEncoded() throws {
        #expect(try AMQPConfiguration(url: "amqp://h:1/%2f").vhost == "/")
        #expect(try AMQPConfiguration(url: "amqp://u:p%40ss@h/").password == "p@ss")
    }

    @Test func anIPv6HostIsAccepted() throws {
        let c = try AMQPConfiguration(url: "amqp://[::1]:5672/x")
        #expect(c.host == "::1")
        #expect(c.port == 5672)
    }

    @Test func badURLsAreRefusedWithTheReason() {
        #expect(throws: AMQPConfiguration.ParseError.notAnAMQPURL("scheme must be amqp://")) { try AMQPConfiguration(url: "http://h") }
        #expect(throws: AMQPConfiguration.ParseError.badPort("99999")) { try AMQPConfiguration(url: "amqp://h:99999/") }
        #expect(throws: AMQPConfiguration.ParseError.notAnAMQPURL("missing host")) { try AMQPConfiguration(url: "amqp://u:p@/v") }
        #expect(throws: (any Error).self) { try AMQPConfiguration(url: "amqp://h/?heartbeat=soon") }
        #expect(throws: (any Error).self) { try AMQPConfiguration(url: "amqp://h/?tls=1") }
    }

    @Test func aClustersNodesAreListedInTheURLAndTriedInTheOrderWritten() throws {
        let c = try AMQPConfiguration(url: "amqp://desk:s3cret@mq1:5672,mq2,[::1]:5674/propdesk?heartbeat=5")
        #expect(c.endpoints.map(\.description) == ["mq1:5672", "mq2:5672", "[::1]:5674"])
        #expect(c.host == "mq1" && c.user == "desk" && c.password == "s3cret" && c.vhost == "propdesk" && c.heartbeatSeconds == 5)
        #expect(c.redactedURL == "amqp://desk:***@mq1:5672,mq2:5672,[::1]:5674/propdesk")
        #expect(throws: AMQPConfiguration.ParseError.notAnAMQPURL("missing host")) { try AMQPConfiguration(url: "amqp://u:p@mq1,,mq3/v") }
        #expect(throws: AMQPConfiguration.ParseError.badPort("0")) { try AMQPConfiguration(url: "amqp://mq1:5672,mq2:0/v") }
        #expect(throws: AMQPConfiguration.ParseError.badPort("+1")) { try AMQPConfiguration(url: "amqp://mq1:+1/v") }
    }

    @Test func theRedactedURLHidesThePassword() throws {
        let c = try AMQPConfiguration(url: "amqp://desk:s3cret@mq:5672/propdesk")
        #expect(!c.redactedURL.contains("s3cret"))
        #expect(c.redactedURL == "amqp://desk:***@mq:5672/propdesk")
    }
}
