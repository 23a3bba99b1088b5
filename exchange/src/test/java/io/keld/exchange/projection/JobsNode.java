package io.keld.exchange.projection;

import com.typesafe.config.Config;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobEvent;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
import io.keld.testkit.ModuleNode;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;

/**
 * The job read sides as a node runs them, and only them: the migrated database, the journal, the job
 * projection, the spend ledger it writes into, and the real-time path's batched index. Jobs' events go
 * into the journal as the {@link DeadlineJob} entity leaves them (same persistence ids, same tag),
 * written by {@link #persist}, so the tests choose exactly which events exist when a node dies.
 */
final class JobsNode {

  private static final AtomicLong writers = new AtomicLong();

  final ModuleNode module;
  final JobUsageStore usage;
  final JobIndex index;
  final TagProjection projection;

  private JobsNode(ModuleNode module, JobUsageStore usage, JobIndex index, TagProjection projection) {
    this.module = module;
    this.usage = usage;
    this.index = index;
    this.projection = projection;
  }

  /** Starts the node; its projection runs unless {@code runProjection} is false (a writer whose read side never got to run). */
  static JobsNode start(Config config, boolean runProjection) {
    ModuleNode module = ModuleNode.start(config);
    try {
      Clock clock = Clock.systemUTC();
      Sql sql = new Sql(module.dataSource(), module.blocking());
      JobUsageStore usage = new JobUsageStore(sql, new Ledger(sql, clock), new PriceBook(sql, clock));
      JobIndex index = new JobIndex(module.system(), sql, usage, JobIndex.FLUSH_INTERVAL, module.metrics());
      TagProjection projection = new TagProjection(module.system(), sql, JobProjection.SPEC, new JobProjection(module.system(), usage),
          TagProjection.Settings.DEFAULT, clock, module.metrics());
      if (runProjection) projection.start();
      module.onStop("keld-stop-job-projection", projection::stop);
      return new JobsNode(module, usage, index, projection);
    } catch (RuntimeException | Error e) {
      module.stop();
      throw e;
    }
  }

  void stop() {
    module.stop();
  }

  private record Write(int before, List<JobEvent> events, ActorRef<Done> replyTo) {}

  /**
   * An entity that persists what it is given under the job's persistence id, tagged as {@link DeadlineJob}
   * tags, if the job has {@code before} events; if it has them all already (a write that timed out but
   * committed), it only answers.
   */
  private static Behavior<Write> writer(String jobId) {
    return new EventSourcedBehavior<Write, JobEvent, Long>(PersistenceId.of(DeadlineJob.ENTITY_KEY.name(), jobId)) {
      @Override
      public Long emptyState() {
        return 0L;
      }

      @Override
      public CommandHandler<Write, JobEvent, Long> commandHandler() {
        return (state, c) -> {
          if (state == c.before() + c.events().size()) return Effect().none().thenRun(s -> c.replyTo().tell(Done.getInstance())).thenStop();
          if (state != c.before()) throw new IllegalStateException(jobId + " has " + state + " events, not " + c.before());
          return Effect().persist(c.events()).thenRun(s -> c.replyTo().tell(Done.getInstance())).thenStop();
        };
      }

      @Override
      public EventHandler<Long, JobEvent> eventHandler() {
        return (state, e) -> state + 1;
      }

      @Override
      public Set<String> tagsFor(JobEvent event) {
        return Set.of(JobEvent.TAG);
      }
    };
  }

  /**
   * Persists each job's events, 100 jobs at a time; a write that fails (the journal's circuit breaker
   * opens on a machine this busy) is tried again by a new writer, which first reads what the job has.
   */
  void persist(List<JobFixtures.JobEvents> jobs) throws Exception {
    for (int from = 0; from < jobs.size(); from += 100) {
      List<JobFixtures.JobEvents> chunk = jobs.subList(from, Math.min(jobs.size(), from + 100));
      for (int attempt = 1; !chunk.isEmpty(); attempt++) {
        List<CompletableFuture<Done>> written = new ArrayList<>();
        for (JobFixtures.JobEvents job : chunk) {
          ActorRef<Write> w = module.system().systemActorOf(writer(job.jobId()), "job-writer-" + writers.incrementAndGet(), Props.empty());
          written.add(AskPattern.<Write, Done>ask(w, r -> new Write(job.before(), job.events(), r), Duration.ofSeconds(60),
              module.system().scheduler()).toCompletableFuture());
        }
        List<JobFixtures.JobEvents> failed = new ArrayList<>();
        for (int i = 0; i < chunk.size(); i++) {
          try {
            written.get(i).get(90, TimeUnit.SECONDS);
          } catch (Exception e) {
            if (attempt >= 5) throw e;
            failed.add(chunk.get(i));
          }
        }
        chunk = failed;
      }
    }
  }
}
