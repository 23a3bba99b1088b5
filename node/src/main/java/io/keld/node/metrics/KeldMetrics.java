package io.keld.node.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The node's metrics: one Prometheus registry per node, with JVM and HTTP metrics bound here.
 *
 * <p>The hook for domain metrics is {@link #registry()}: the node hands it to each module it
 * assembles (order books, jobs, flow), which register their own meters on it. Modules depend on
 * Micrometer's {@link MeterRegistry} only, never on the node.
 */
public final class KeldMetrics implements AutoCloseable {

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
  private final Map<HttpTimerKey, Timer> httpTimers = new ConcurrentHashMap<>();

  public KeldMetrics(String nodeAddress) {
    registry.config().commonTags("node", nodeAddress);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gcMetrics.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** Where modules register their meters. */
  public MeterRegistry registry() {
    return registry;
  }

  /** Records one HTTP request the Keld server answered. */
  public void recordHttpRequest(String method, int status, Duration took) {
    recordHttpRequest(method, status, took.toNanos());
  }

  /**
   * Records one HTTP request the Keld server answered, {@code tookNanos} long. The timer of a method
   * and status is built once and then found in a map: building it per request (a meter id, its tags,
   * the registry's lookup) cost more than the recording.
   */
  public void recordHttpRequest(String method, int status, long tookNanos) {
    Timer timer = httpTimers.get(new HttpTimerKey(method, status));
    if (timer == null) {
      timer = httpTimers.computeIfAbsent(new HttpTimerKey(method, status), k -> Timer.builder("keld.http.server.requests")
          .description("HTTP requests answered by the Keld server")
          .tag("method", k.method())
          .tag("status", Integer.toString(k.status()))
          .tag("outcome", outcome(k.status()))
          .publishPercentileHistogram()
          .register(registry));
    }
    timer.record(tookNanos, TimeUnit.NANOSECONDS);
  }

  private record HttpTimerKey(String method, int status) {}

  /** The registry's content in the Prometheus text exposition format (version 0.0.4). */
  public String scrape() {
    return registry.scrape();
  }

  private static String outcome(int status) {
    if (status < 200) return "INFORMATIONAL";
    if (status < 300) return "SUCCESS";
    if (status < 400) return "REDIRECTION";
    if (status < 500) return "CLIENT_ERROR";
    return "SERVER_ERROR";
  }

  @Override
  public void close() {
    gcMetrics.close();
    registry.close();
  }
}
