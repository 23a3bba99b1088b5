package io.keld.node.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.node.metrics.KeldMetrics;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import java.nio.charset.StandardCharsets;

/** {@code GET /metrics}: every meter of the node in the Prometheus text format. */
public final class MetricsRoutes {

  static final ContentType PROMETHEUS_TEXT = ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  private final KeldMetrics metrics;

  public MetricsRoutes(KeldMetrics metrics) {
    this.metrics = metrics;
  }

  public Route route() {
    return path(
        "metrics",
        () -> get(() -> complete(HttpResponse.create().withEntity(HttpEntities.create(PROMETHEUS_TEXT, metrics.scrape().getBytes(StandardCharsets.UTF_8))))));
  }
}
