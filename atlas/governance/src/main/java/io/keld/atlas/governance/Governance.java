package io.keld.atlas.governance;

import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.BudgetEvent;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.ixp.auth.Authenticator;
import io.keld.kit.CacheSettings;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
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
 * {@link TeamBudgets} entities, and the {@code /atlas/v1} governance routes. The node starts one.
 */
public final class Governance {

  private static final Logger log = LoggerFactory.getLogger(Governance.class);

  private final TenancyStore tenancy;
  private final KeyStore keys;
  private final AuditLog audit;
  private final BudgetClient budgets;
  private final Sql sql;
  private final Clock clock;
  private final MeterRegistry registry;

  private Governance(TenancyStore tenancy, KeyStore keys, AuditLog audit, BudgetClient budgets, Sql sql, Clock clock, MeterRegistry registry) {
    this.tenancy = tenancy;
    this.keys = keys;
    this.audit = audit;
    this.budgets = budgets;
    this.sql = sql;
    this.clock = clock;
    this.registry = registry;
  }

  /**
   * Registers the budget entities with Cluster Sharding and wires the stores to the database.
   *
   * @param blocking     where JDBC calls run (the node's blocking dispatcher)
   * @param projectCache bounds of the cache of projects by id
   */
  public static Governance start(ActorSystem<?> system, DataSource dataSource, Executor blocking, Clock clock, MeterRegistry registry,
      Duration budgetTimeout, CacheSettings projectCache) {
    Sql sql = new Sql(dataSource, blocking);
    TenancyStore tenancy = new TenancyStore(sql, clock, projectCache);
    AuditLog audit = new AuditLog(sql, clock);
    Counter softCapAlerts = Counter.builder("keld.budget.soft.cap.alerts")
        .description("Soft budget caps crossed (one per scope per period)").register(registry);
    TeamBudgets.init(system, clock, (teamId, events) -> onBudgetEvents(teamId, events, softCapAlerts));
    return new Governance(tenancy, new KeyStore(sql, clock), audit, new BudgetClient(system, budgetTimeout), sql, clock, registry);
  }

  /**
   * A soft cap crossed is an alert: logged and counted here, on the node that recorded it; its audit
   * row is a projection of the event ({@link #softCapAlertProjection}), so a crash cannot lose it.
   */
  private static void onBudgetEvents(String teamId, List<BudgetEvent> events, Counter alerts) {
    for (BudgetEvent e : events) {
      if (e instanceof BudgetEvent.SoftCapCrossed crossed) {
        alerts.increment();
        log.warn("Soft budget cap crossed: scope {} (team {}) committed {} of a soft cap of {} micro-USD", crossed.scopeId(), teamId,
            crossed.committedMicroUsd(), crossed.softCapMicroUsd());
      }
    }
  }

  /**
   * The soft-cap alerts' audit rows as a projection of the budgets' journal ({@link SoftCapAlerts}),
   * not started: a cluster runs it on one node at a time (the node's composition does).
   */
  public TagProjection softCapAlertProjection(ActorSystem<?> system) {
    return new TagProjection(system, sql, SoftCapAlerts.SPEC, SoftCapAlerts::apply, TagProjection.Settings.DEFAULT, clock, registry);
  }

  /** {@code /atlas/v1}: organizations, teams, projects, keys, budgets, reservations, the audit log. */
  public Route routes() {
    return new GovernanceRoutes(tenancy, keys, budgets, audit).route();
  }

  /** What other modules' {@code /atlas/v1} routes use to authorize and audit their calls the same way. */
  public AuditedCalls auditedCalls() {
    return new AuditedCalls(tenancy, audit);
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

  public BudgetClient budgets() {
    return budgets;
  }
}
