package io.keld.exchange;

import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendIngest;
import io.keld.exchange.edge.EdgeDefaults;
import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.jobs.BackupPolicies;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobBookListener;
import io.keld.exchange.jobs.JobMetrics;
import io.keld.exchange.jobs.JobObserver;
import io.keld.exchange.jobs.JobSettings;
import io.keld.exchange.jobs.JobStreams;
import io.keld.exchange.jobs.JobPorts;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.exchange.jobs.Jobs;
import io.keld.exchange.jobs.OperatorBackupFleet;
import io.keld.exchange.projection.JobProjection;
import io.keld.flow.Flow;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.CacheSettings;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.BookListener;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * How jobs run on one node: the deadline-job entities, this node's data plane for them, and the
 * projects' policies (backups, edge defaults). The node starts one, then builds the {@code /ixp/v1}
 * and {@code /v1} routes on it.
 */
public final class Exchange {

  /** The journal plugin the deadline jobs persist through: the same tables, a write queue of their own (config/keld.conf says why). */
  public static final String JOBS_JOURNAL_PLUGIN = "keld-jobs-journal";

  private final Governance governance;
  private final EdgeDefaults edgeDefaults;
  private final DeadlineJobs jobs;
  private final Sql sql;
  private final MeterRegistry registry;
  private final Clock clock;

  /**
   * Deadline jobs on this node: what {@link #start} wires together.
   *
   * @param bookListener tells jobs of fills and expiries; add it to the node's book listeners
   */
  public record DeadlineJobs(Jobs jobs, JobStreams streams, BookListener bookListener, JobUsageStore usage, JobMetrics metrics, JobIndex index) {}

  private Exchange(Governance governance, EdgeDefaults edgeDefaults, DeadlineJobs jobs, Sql sql, MeterRegistry registry, Clock clock) {
    this.governance = governance;
    this.edgeDefaults = edgeDefaults;
    this.jobs = jobs;
    this.sql = sql;
    this.registry = registry;
    this.clock = clock;
  }

  /**
   * Registers the deadline-job entities with Cluster Sharding and starts this node's data plane for
   * them. Call once, before the HTTP routes are built.
   *
   * @param blocking    where JDBC calls run (the node's blocking dispatcher)
   * @param routes      where a leg's provider and model are served (Trade's provider directory)
   * @param backupFleet where the operator's default backup is called, registered here with this node's Flow
   * @param edgeDefaultsCache bounds of the cache of projects' edge defaults
   */
  public static Exchange start(ActorSystem<?> system, DataSource dataSource, Executor blocking, Clock clock, MeterRegistry registry,
      Governance governance, SpendIngest spend, BookClient books, Flow flow, JobStreams.RouteResolver routes, JobSettings settings,
      Optional<OperatorBackupFleet> backupFleet, Set<String> useCases, Duration askTimeout, CacheSettings edgeDefaultsCache) {
    backupFleet.ifPresent(fleet -> fleet.register(flow));
    Sql sql = new Sql(dataSource, blocking);
    JobUsageStore usage = new JobUsageStore(sql, spend.ledger(), spend.prices());
    JobMetrics metrics = new JobMetrics(registry);
    JobIndex index = new JobIndex(system, sql, usage, JobIndex.FLUSH_INTERVAL, registry);
    DeadlineJob.init(system, new DeadlineJob.Deps(clock, settings, JobPorts.books(books), JobPorts.budgets(governance.budgets()),
        JobPorts.clusterPlanes(system), metrics, JobObserver.NONE, JOBS_JOURNAL_PLUGIN));
    BackupPolicies backups = new BackupPolicies(sql, clock, settings.operatorBackup());
    Jobs j = new Jobs(system, governance.tenancy(), backups, settings, useCases, clock, askTimeout);
    DeadlineJobs jobs = new DeadlineJobs(j, new JobStreams(system, flow, routes, settings), new JobBookListener(system), usage, metrics, index);
    return new Exchange(governance, new EdgeDefaults(sql, clock, edgeDefaultsCache), jobs, sql, registry, clock);
  }

  /**
   * The deadline jobs' read sides (index rows, usage rows and their ledger records) as a projection
   * of the jobs' journal ({@link JobProjection}), not started: a cluster runs it on one node at a
   * time (the node's composition does; a module's tests start it themselves).
   */
  public TagProjection jobProjection(ActorSystem<?> system) {
    return new TagProjection(system, sql, JobProjection.SPEC, new JobProjection(system, jobs.usage()), TagProjection.Settings.DEFAULT,
        clock, registry);
  }

  public DeadlineJobs jobs() {
    return jobs;
  }

  /** Projects' defaults for the OpenAI-compatible edge. */
  public EdgeDefaults edgeDefaults() {
    return edgeDefaults;
  }

  /** {@code /atlas/v1/projects/{id}/backup} and {@code .../edge-defaults}. */
  public Route projectPolicyRoutes() {
    return new ProjectPolicyRoutes(governance.authenticator(), governance.auditedCalls(), jobs.jobs().backups(), edgeDefaults,
        jobs.jobs().useCases()).route();
  }
}
