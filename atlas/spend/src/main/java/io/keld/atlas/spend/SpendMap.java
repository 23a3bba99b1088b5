package io.keld.atlas.spend;

import org.apache.pekko.http.javadsl.server.Directives;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.keys.CachingAuthenticator;
import io.keld.atlas.spend.connections.ConnectionRoutes;
import io.keld.atlas.spend.connections.ConnectionSettings;
import io.keld.atlas.spend.connections.Connections;
import io.keld.atlas.spend.connections.Reconciliation;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.spend.otlp.MetricIntervals;
import io.keld.atlas.spend.otlp.OtlpRoutes;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.atlas.spend.reports.FocusExport;
import io.keld.atlas.spend.reports.Recommendations;
import io.keld.atlas.spend.reports.SpendReports;
import io.keld.kit.CacheSettings;
import io.keld.kit.crypto.MasterKey;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.entity.BookClient;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.pekko.dispatch.ExecutionContexts;

/**
 * The spend map on one node: the usage ledger, price book and mapping rules in SQL tables, the
 * reports, FOCUS export, recommendations, imports and the OTLP ingest over HTTP.
 */
public final class SpendMap {

  private static final Logger log = LoggerFactory.getLogger(SpendMap.class);

  private final ActorSystem<?> system;
  private final Sql sql;
  private final Executor blocking;
  private final Clock clock;
  private final Governance governance;
  private final SpendIngest ingest;
  private final MetricIntervals metricIntervals;
  private Connections connections;

  /**
   * @param blocking          where JDBC calls run (the node's blocking dispatcher)
   * @param mappingRulesCache bounds of the cache of organizations' mapping rules and projects
   */
  public SpendMap(ActorSystem<?> system, DataSource dataSource, Executor blocking, Clock clock, Governance governance,
      CacheSettings mappingRulesCache) {
    this.system = system;
    this.sql = new Sql(dataSource, blocking);
    this.blocking = blocking;
    this.clock = clock;
    this.governance = governance;
    this.ingest = new SpendIngest(new Ledger(sql, clock), new PriceBook(sql, clock), new MappingRules(sql, clock, mappingRulesCache));
    this.metricIntervals = new MetricIntervals(sql, ingest.rules(), ingest.prices(), ingest.ledger(), clock);
  }

  /**
   * The spend map's reports, export, recommendations, imports, mapping rules and price book.
   *
   * @param books    live quotes for the recommendations
   * @param useCases the books' use cases (what a recommendation may move work to)
   */
  public Route routes(BookClient books, Set<String> useCases) {
    Recommendations.Quoter quoter = (useCase, ceiling, tokens, deadline) -> {
      long due = deadline.toEpochMilli();
      Bid bid = new Bid("recommendation", useCase, Set.of(), 0, ceiling, tokens, due, due, Set.of(), Set.of(), Set.of(), Set.of());
      return books.quote(useCase, bid, 1).thenApply(q -> q.options().stream().findFirst());
    };
    FocusExport focus = new FocusExport(sql);
    Route spend = new SpendRoutes(governance.keys(), ingest, new SpendReports(sql), new Recommendations(sql, quoter, useCases, clock),
        focus::csv, governance.budgets(), governance.audit(), clock, blocking).route();
    if (connections == null) return spend;
    return Directives.concat(
        new ConnectionRoutes(governance.keys(), connections, new Reconciliation(sql), governance.audit(), clock).route(), spend);
  }

  /**
   * Starts pulling provider connections' usage and cost reports ({@code /atlas/v1/connections}), their
   * credentials sealed under {@code masterKey}. Call before {@link #routes}, which then serves them.
   */
  public Connections startConnections(MasterKey masterKey, ConnectionSettings settings) {
    connections = Connections.start(sql, masterKey, settings, ingest, clock);
    system.getWhenTerminated().thenRun(connections::close);
    return connections;
  }

  /**
   * Seeds the price book from a CSV (entries not there yet are added; edits are kept) and loads it,
   * then reloads it every {@code refresh}, so edits made on other nodes arrive.
   */
  public void startPriceBook(String seedCsv, Duration refresh) {
    int added = ingest.prices().seedAndLoad(seedCsv, "seed");
    if (added > 0) log.info("Price book: {} seed entries added", added);
    system.scheduler().scheduleWithFixedDelay(refresh, refresh, () -> {
      try {
        ingest.prices().reload();
      } catch (RuntimeException e) {
        log.warn("Price book reload failed; keeping the prices loaded before: {}", e.getMessage());
      }
    }, system.executionContext());
  }

  /** The spend map's ingest: telemetry, usage files and settled jobs all enter the ledger through it. */
  public SpendIngest ingest() {
    return ingest;
  }

  /**
   * Settles OTLP GenAI metrics into the ledger: every {@code every}, the intervals that ended at least
   * {@code settleAfter} ago (by then the spans of the same calls have arrived, so the metrics count
   * only what the spans did not; see {@link MetricIntervals}); streams idle for {@code streamExpiry}
   * are forgotten. Every node with an OpenTelemetry port runs it; two settling at once count once.
   */
  public void startOtlpMetrics(Duration settleAfter, Duration every, Duration streamExpiry) {
    AtomicBoolean running = new AtomicBoolean();
    system.scheduler().scheduleWithFixedDelay(every, every, () -> {
      if (!running.compareAndSet(false, true)) return;
      try {
        MetricIntervals.Settled settled = metricIntervals.settleDue(settleAfter);
        if (settled.intervals() > 0) {
          log.debug("OTLP metrics: {} interval(s) settled into {} ledger record(s)", settled.intervals(), settled.records());
        }
        metricIntervals.forgetStreams(streamExpiry);
      } catch (RuntimeException e) {
        log.warn("OTLP metrics could not be settled; trying again in {}: {}", every, e.getClass().getSimpleName());
      } finally {
        running.set(false);
      }
    }, ExecutionContexts.fromExecutor(blocking));
  }

  /** OTLP metrics not yet in the ledger, and how they get there. */
  public MetricIntervals metricIntervals() {
    return metricIntervals;
  }

  /**
   * OTLP/HTTP ingest ({@code POST /v1/traces}, {@code POST /v1/metrics}), for the node's OpenTelemetry port.
   *
   * @param keyCache bounds of the port's cache of exporters' keys
   */
  public Route otlpRoute(long maxBodyBytes, CacheSettings keyCache) {
    return new OtlpRoutes(new CachingAuthenticator(governance.keys(), keyCache), ingest, metricIntervals, maxBodyBytes,
        Materializer.matFromSystem(system)).route();
  }
}
