package io.keld.node.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.keld.atlas.budget.ScopeView;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobRequest;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.exchange.jobs.JobView;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.flow.Operation;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.node.KeldNode;
import io.keld.testkit.TestDatabase;
import io.keld.node.testing.TestNodes;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * A node on PostgreSQL with an enterprise, simulated provider fleets (on their own actor system, so
 * they outlive a node that crashes), and helpers to submit jobs, stream items and check settlement.
 * Job timers are shortened so tests take seconds.
 */
final class JobWorld implements AutoCloseable {

  static final ObjectMapper JSON = new ObjectMapper();

  final TestDatabase db;
  final Config config;
  final ActorSystem<Void> simSystem = ActorSystem.create(Behaviors.empty(), "sim");
  final Map<String, SimulatedProvider> fleets = new HashMap<>();
  final Map<String, Integer> fleetSlots = new HashMap<>();
  KeldNode node;
  Principal principal;
  Organization org;
  Team team;
  Project project;

  JobWorld() throws Exception {
    db = TestDatabase.postgres();
    Map<String, Object> fast = new HashMap<>();
    fast.put("keld.jobs.tick", "200ms");
    fast.put("keld.jobs.stall-after", "1500ms");
    fast.put("keld.jobs.projection-warmup", "2s");
    fast.put("keld.jobs.deadline-margin", "500ms");
    fast.put("keld.jobs.backup-margin", "1s");
    fast.put("keld.jobs.min-lead", "1s");
    fast.put("keld.jobs.report-interval", "100ms");
    fast.put("keld.jobs.retry-delay", "300ms");
    fast.put("keld.marketplace.safety-margin", "500ms");
    fast.put("keld.flow.retry-base", "50ms");
    fast.put("keld.flow.retry-cap", "500ms");
    config = ConfigFactory.parseMap(fast).withFallback(TestNodes.config(db, List.of())).resolve();
    start();
    org = node.governance().tenancy().createOrganization("Acme", Principal.OrgKind.ENTERPRISE).toCompletableFuture().get(10, TimeUnit.SECONDS);
    team = node.governance().tenancy().createTeam(org.id(), "research").toCompletableFuture().get(10, TimeUnit.SECONDS);
    project = node.governance().tenancy().createProject(team, "nightly").toCompletableFuture().get(10, TimeUnit.SECONDS);
    principal = new Principal("key_test", org.id(), Principal.OrgKind.ENTERPRISE, Role.MEMBER, null, null);
  }

  void start() {
    node = TestNodes.startReady(config);
    // Flow is in memory: a new node learns the fleets' endpoints again (asks live on in the books).
    fleets.forEach((id, f) -> node.flow().endpoint(new ProviderEndpoint(id, f.baseUrl(), null), new Capacity(fleetSlots.get(id), 0)));
  }

  /** Stops the node as a crash would leave things: whatever it held in memory is gone. */
  void crash() {
    node.system().terminate();
    try {
      node.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  SimulatedProvider fleet(String providerId, String model, FleetSettings settings) {
    SimulatedProvider f = SimulatedProvider.start(simSystem, "127.0.0.1", 0, providerId, List.of(model), settings);
    fleets.put(providerId, f);
    fleetSlots.put(providerId, settings.slots());
    node.flow().endpoint(new ProviderEndpoint(providerId, f.baseUrl(), null), new Capacity(settings.slots(), 0));
    return f;
  }

  void ask(String askId, String providerId, String model, String useCase, long price, long throughputTps) throws Exception {
    Ask ask = new Ask(askId, providerId, model, useCase, price, 80, throughputTps, 64, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "local", Set.of());
    BookResult r = node.books().submit(useCase, new BookOp.PostAsk(ask)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertTrue(r instanceof BookResult.Accepted, "ask posted: " + r);
  }

  void backup(String providerId, String model, long price, long tps) throws Exception {
    node.jobs().jobs().backups().set(project.id(), new Backup(providerId, model, price, tps, "project")).toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
  }

  DeadlineJob.SubmitReply submit(JobRequest request, String idempotencyKey) throws Exception {
    return node.jobs().jobs().submit(principal, request, idempotencyKey, null).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  JobView submitAccepted(JobRequest request) throws Exception {
    DeadlineJob.SubmitReply reply = submit(request, null);
    assertTrue(reply instanceof DeadlineJob.Accepted, "accepted: " + reply);
    return ((DeadlineJob.Accepted) reply).view();
  }

  static Item chat(String customId, int outputTokens) {
    ObjectNode body = JSON.createObjectNode();
    body.put("model", "any");
    body.putArray("messages").addObject().put("role", "user").put("content", "please summarize item " + customId);
    body.put("max_tokens", outputTokens);
    return Item.of(customId, Operation.CHAT_COMPLETIONS, body);
  }

  static List<Item> items(String prefix, int n, int outputTokens) {
    List<Item> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(chat(prefix + "-" + i, outputTokens));
    return out;
  }

  /** Streams the items as one upload and collects the results (by custom id). */
  Map<String, ItemResult> run(String jobId, List<Item> items) throws Exception {
    List<ItemResult> results = node.jobs().streams().run(jobId, Source.from(items)).runWith(Sink.seq(), node.system())
        .toCompletableFuture().get(120, TimeUnit.SECONDS);
    Map<String, ItemResult> out = new ConcurrentHashMap<>();
    for (ItemResult r : results) out.put(r.customId(), r);
    return out;
  }

  JobView view(String jobId) throws Exception {
    return node.jobs().jobs().get(jobId).toCompletableFuture().get(10, TimeUnit.SECONDS).orElseThrow();
  }

  JobView await(String jobId, Predicate<JobView> condition, Duration within) throws Exception {
    long end = System.nanoTime() + within.toNanos();
    JobView v = view(jobId);
    while (!condition.test(v)) {
      if (System.nanoTime() > end) throw new AssertionError("job " + jobId + " did not get there in " + within + "; it is " + v);
      Thread.sleep(50);
      v = view(jobId);
    }
    return v;
  }

  JobView awaitSettled(String jobId, Duration within) throws Exception {
    return await(jobId, JobView::settled, within);
  }

  ScopeView scope(String scopeId) throws Exception {
    TeamBudgets.Reply r = node.governance().budgets().scope(team.id(), scopeId).toCompletableFuture().get(10, TimeUnit.SECONDS);
    return ((TeamBudgets.Ok) r).scopes().get(0);
  }

  /** A job's usage rows, once the job projection has applied every event the job has so far (they are written from its journal). */
  List<JobUsageStore.UsageRecord> usage(String jobId) throws Exception {
    awaitProjected(jobId, Duration.ofSeconds(30));
    return node.jobs().usage().ofJob(jobId).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** Waits until the job projection's stored offset has passed the job's last event in the journal. */
  void awaitProjected(String jobId, Duration within) throws Exception {
    long end = System.nanoTime() + within.toNanos();
    try (Connection c = db.connect();
        PreparedStatement last = c.prepareStatement("SELECT max(ordering) FROM event_journal WHERE persistence_id = ?");
        PreparedStatement offset = c.prepareStatement("SELECT journal_offset FROM projection_offsets WHERE projection_name = 'jobs'")) {
      last.setString(1, "DeadlineJob|" + jobId);
      long ordering;
      try (ResultSet rs = last.executeQuery()) {
        rs.next();
        ordering = rs.getLong(1);
      }
      while (true) {
        try (ResultSet rs = offset.executeQuery()) {
          if (rs.next() && rs.getLong(1) >= ordering) return;
        }
        if (System.nanoTime() > end) throw new AssertionError("the job projection has not reached job " + jobId + " in " + within);
        Thread.sleep(50);
      }
    }
  }

  /** How many events of this type the job's journal holds. */
  int events(String jobId, String type) throws Exception {
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM event_journal WHERE persistence_id = ? AND event_ser_manifest LIKE ?")) {
      ps.setString(1, "DeadlineJob|" + jobId);
      ps.setString(2, "%$" + type);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  /** Settled exactly once, with the budget, the usage records and the view agreeing to the micro-dollar. */
  void assertSettledOnce(JobView v) throws Exception {
    assertTrue(v.settled());
    assertEquals(1, events(v.jobId(), "Settled"), "one settlement in the journal");
    List<JobUsageStore.UsageRecord> usage = usage(v.jobId());
    assertEquals(v.legs().size(), usage.size(), "one usage record per leg");
    assertEquals(v.costMicroUsd(), usage.stream().mapToLong(JobUsageStore.UsageRecord::costMicroUsd).sum());
    long tokens = v.progress().inputTokens() + v.progress().outputTokens();
    assertEquals(tokens, usage.stream().mapToLong(u -> u.inputTokens() + u.outputTokens()).sum());
  }

  /** The job completes and settles once, and its project's budget holds exactly its cost with nothing reserved. */
  JobView assertCompletedAndBalanced(String jobId) throws Exception {
    JobView done = awaitSettled(jobId, Duration.ofSeconds(20));
    assertEquals("completed", done.state());
    assertSettledOnce(done);
    assertEquals(done.costMicroUsd(), scope(project.id()).spentMicroUsd());
    assertEquals(0, scope(project.id()).reservedMicroUsd());
    return done;
  }

  @Override
  public void close() {
    try {
      if (node != null && node.shutdownReason().isEmpty()) node.stop();
    } finally {
      fleets.values().forEach(SimulatedProvider::close);
      simSystem.terminate();
      db.close();
    }
  }
}
