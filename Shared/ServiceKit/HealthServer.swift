import AMQP
import Foundation
import Hummingbird
import Logging
import Postgres
import Prometheus

/// The endpoints every service serves:
/// - `GET /health/live`: 200 while the process runs.
/// - `GET /health/ready`: 200 when PostgreSQL answers and — for a service that needs it to do
///   its work — the broker connection is up, else 503; the JSON body says which check failed.
///   The desk (intake) takes calls while the broker is away: its writes wait in the outbox and
///   reach the departments when it is back, so its readiness does not require the broker, and
///   the body says `"takes_calls": true` with the broker's state beside it.
/// - `GET /metrics`: Prometheus text format.
public enum HealthRoutes {
    public static func add<Context: RequestContext>(
        to router: Router<Context>, service: String, postgres: PostgresClient, amqp: AMQPConnection,
        registry: PrometheusCollectorRegistry, brokerRequired: Bool = true
    ) {
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"status":"live","service":"\#(service)"}"#)))
        }
        router.get("/health/ready") { _, _ in
            var database = "ok"
            do { try await postgres.checkConnection() } catch { database = "\(error)" }
            let broker = amqp.isConnected ? "ok" : "not connected (recovering)"
            let ready = database == "ok" && (broker == "ok" || !brokerRequired)
            var fields: [String: Any] = [
                "status": ready ? "ready" : "not ready", "service": service, "database": database, "broker": broker,
                "broker_required": brokerRequired,
            ]
            if !brokerRequired { fields["takes_calls"] = ready }
            let body = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
