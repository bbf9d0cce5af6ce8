import Foundation
import Logging
import Metrics
import Prometheus
import Synchronization

/// Process-wide logging and metrics, set up once per process.
public enum Observability {
    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Logs go to stderr with the given level; metrics to a Prometheus registry served at `/metrics`.
    public static func bootstrap(logLevel: Logger.Level) -> PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return handler
            }
            let new = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: new))
            registry = new
            return new
        }
    }
}
