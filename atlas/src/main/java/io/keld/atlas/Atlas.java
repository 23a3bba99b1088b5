package io.keld.atlas;

import io.keld.atlas.ixp.JobIndex;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.SpendRoutes;
import io.keld.atlas.spend.reports.FocusExport;
import io.keld.atlas.spend.reports.Recommendations;
import io.keld.atlas.spend.reports.SpendReports;
import io.keld.marketplace.book.Bid;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.spend.otlp.OtlpRoutes;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.atlas.openai.EdgeDefaults;
import io.keld.atlas.jobs.BackupPolicies;
import io.keld.atlas.jobs.DeadlineJob;
import io.keld.atlas.jobs.JobBookListener;
import io.keld.atlas.jobs.JobMetrics;
import io.keld.atlas.jobs.JobSettings;
import io.keld.atlas.jobs.JobStreams;
import io.keld.atlas.jobs.JobUsageStore;
import io.keld.atlas.jobs.Jobs;
import io.keld.flow.Flow;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.BookListener;
import java.util.Set;
import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.BudgetEvent;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.atlas.http.AtlasRoutes;
import io.keld.atlas.keys.KeyStore;
import io.keld.edge.sql.Sql;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.ixp.auth.Authenticator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Atlas governance on one node: tenancy, keys and the audit log in SQL tables, budgets as sharded
 * {@link TeamBudgets} entities, and the {@code /atlas/v1} routes. The node creates one at start-up.
 */
public final class Atlas {

  private static final Logger log = LoggerFactory.getLogger(Atlas.class);

  private final TenancyStore tenancy;
  private final KeyStore keys;
  private final AuditLog audit;
  private final BudgetClient budgets;
  private final ActorSystem<?> system;
  private final Sql sql;
  private final Clock clock;
  private final MeterRegistry registry;
  private final EdgeDefaults edgeDefaults;
  private final SpendIngest spend;
  private final Executor blocking;
  private volatile BookClient books;
  private volatile DeadlineJobs jobs;

  private Atlas(ActorSystem<?> system, Sql sql, Executor blocking, Clock clock, MeterRegistry registry, TenancyStore tenancy, KeyStore keys,
      AuditLog audit, BudgetClient budgets) {
    this.blocking = blocking;
    this.system = system;
    this.sql = sql;
    this.clock = clock;
    this.registry = registry;
    this.tenancy = tenancy;
    this.keys = keys;
    this.audit = audit;
    this.budgets = budgets;
    this.edgeDefaults = new EdgeDefaults(sql, clock);
    this.spend = new SpendIngest(new Ledger(sql, clock), new PriceBook(sql, clock), new MappingRules(sql, clock));
  }

  /**
   * Deadline jobs on this node: what {@link #startJobs} wires together.
   *
   * @param bookListener tells jobs of fills and expiries; add it to the node's book listeners
   */
  public record DeadlineJobs(Jobs jobs, JobStreams streams, BookListener bookListener, JobUsageStore usage, JobMetrics metrics, JobIndex index) {}

  /**
   * Registers the deadline-job entities with Cluster Sharding and starts this node's data plane for
   * them. Call once, before the HTTP routes are built.
   */
  public DeadlineJobs startJobs(BookClient books, Flow flow, JobStreams.RouteResolver routes, JobSettings settings, Set<String> useCases,
      Duration askTimeout) {
    this.books = books;
    JobUsageStore usage = new JobUsageStore(sql, spend.ledger(), spend.prices());
    JobMetrics metrics = new JobMetrics(registry);
    JobIndex index = new JobIndex(system, sql, usage, JobIndex.FLUSH_INTERVAL);
    DeadlineJob.init(system, new DeadlineJob.Deps(clock, settings, books, budgets, usage, metrics, index));
    BackupPolicies backups = new BackupPolicies(sql, clock, settings.operatorBackup());
    Jobs j = new Jobs(system, tenancy, backups, settings, useCases, clock, askTimeout);
    jobs = new DeadlineJobs(j, new JobStreams(system, flow, routes, settings), new JobBookListener(system), usage, metrics, index);
    return jobs;
  }

  /** The deadline jobs, once {@link #startJobs} ran. */
  public DeadlineJobs jobs() {
    return jobs;
  }

  /**
   * Registers the budget entities with Cluster Sharding and wires the stores to the database.
   *
   * @param blocking where JDBC calls run (the node's blocking dispatcher)
   */
  public static Atlas start(ActorSystem<?> system, DataSource dataSource, Executor blocking, Clock clock, MeterRegistry registry,
      Duration budgetTimeout) {
    Sql sql = new Sql(dataSource, blocking);
    TenancyStore tenancy = new TenancyStore(sql, clock);
    AuditLog audit = new AuditLog(sql, clock);
    Counter softCapAlerts = Counter.builder("keld.budget.soft.cap.alerts")
        .description("Soft budget caps crossed (one per scope per period)").register(registry);
    TeamBudgets.init(system, clock, (teamId, events) -> onBudgetEvents(teamId, events, tenancy, audit, softCapAlerts));
    return new Atlas(system, sql, blocking, clock, registry, tenancy, new KeyStore(sql, clock), audit, new BudgetClient(system, budgetTimeout));
  }

  /** A soft cap crossed is an alert: logged, counted, and written to the organization's audit log. */
  private static void onBudgetEvents(String teamId, List<BudgetEvent> events, TenancyStore tenancy, AuditLog audit, Counter alerts) {
    for (BudgetEvent e : events) {
      if (e instanceof BudgetEvent.SoftCapCrossed crossed) {
        alerts.increment();
        log.warn("Soft budget cap crossed: scope {} (team {}) committed {} of a soft cap of {} micro-USD", crossed.scopeId(), teamId,
            crossed.committedMicroUsd(), crossed.softCapMicroUsd());
        tenancy.team(teamId)
            .thenCompose(team -> audit.record(team.map(t -> t.orgId()).orElse(null), null, "budget.soft_cap_crossed",
                crossed.scopeId(), "alert", 200,
                "committed " + crossed.committedMicroUsd() + " of soft cap " + crossed.softCapMicroUsd() + " micro-USD"))
            .exceptionally(failure -> {
              log.error("Could not write the soft-cap alert of {} to the audit log", crossed.scopeId(), failure);
              return null;
            });
      }
    }
  }

  public Route routes() {
    Route governance = new AtlasRoutes(tenancy, keys, budgets, audit, jobs == null ? null : jobs.jobs().backups(), edgeDefaults,
        jobs == null ? Set.of() : jobs.jobs().useCases()).route();
    return org.apache.pekko.http.javadsl.server.Directives.concat(governance, spendRoutes());
  }

  /** The spend map's reports, export, recommendations, imports, mapping rules and price book. */
  private Route spendRoutes() {
    Set<String> useCases = jobs == null ? Set.of() : jobs.jobs().useCases();
    Recommendations.Quoter quoter = (useCase, ceiling, tokens, deadline) -> {
      if (books == null) return java.util.concurrent.CompletableFuture.completedFuture(Optional.empty());
      long due = deadline.toEpochMilli();
      Bid bid = new Bid("recommendation", useCase, Set.of(), 0, ceiling, tokens, due, due, Set.of(), Set.of(), Set.of(), Set.of());
      return books.quote(useCase, bid, 1).thenApply(q -> q.options().stream().findFirst());
    };
    FocusExport focus = new FocusExport(sql);
    return new SpendRoutes(keys, spend, new SpendReports(sql), new Recommendations(sql, quoter, useCases, clock), focus::csv, budgets,
        audit, clock, blocking).route();
  }

  /**
   * Seeds the price book from a CSV (entries not there yet are added; edits are kept) and loads it,
   * then reloads it every {@code refresh}, so edits made on other nodes arrive.
   */
  public void startPriceBook(String seedCsv, Duration refresh) {
    int added = spend.prices().seedAndLoad(seedCsv, "seed");
    if (added > 0) log.info("Price book: {} seed entries added", added);
    system.scheduler().scheduleWithFixedDelay(refresh, refresh, () -> {
      try {
        spend.prices().reload();
      } catch (RuntimeException e) {
        log.warn("Price book reload failed; keeping the prices loaded before: {}", e.getMessage());
      }
    }, system.executionContext());
  }

  /** The spend map's ingest: telemetry, usage files and settled jobs all enter the ledger through it. */
  public SpendIngest spend() {
    return spend;
  }

  /** OTLP/HTTP trace ingest ({@code POST /v1/traces}), for the node's OpenTelemetry port. */
  public org.apache.pekko.http.javadsl.server.Route otlpRoute(long maxBodyBytes) {
    return new OtlpRoutes(new io.keld.atlas.keys.CachingAuthenticator(keys, Duration.ofSeconds(5)), spend, maxBodyBytes,
        org.apache.pekko.stream.Materializer.matFromSystem(system)).route();
  }

  public Authenticator authenticator() {
    return keys;
  }

  /** The operator key, if this is the first node ever started on this database; printed once, never stored. */
  public Optional<KeyStore.IssuedKey> issueBootstrapKeyOnce() {
    return keys.issueBootstrapKeyOnce(tenancy);
  }

  public TenancyStore tenancy() {
    return tenancy;
  }

  public KeyStore keys() {
    return keys;
  }

  public AuditLog audit() {
    return audit;
  }

  /** Projects' defaults for the OpenAI-compatible edge. */
  public EdgeDefaults edgeDefaults() {
    return edgeDefaults;
  }

  public BudgetClient budgets() {
    return budgets;
  }
}
