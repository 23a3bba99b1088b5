package io.keld.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.node.testing.TestNodes;
import io.keld.testkit.TestDatabase;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator's day, with real processes: three nodes of the packaged jar started at once on an
 * empty PostgreSQL schema, a simulated provider fleet registered through the Trade API, and a
 * client sending deadline jobs and real-time requests round-robin over the nodes (retrying once on
 * another node, as a load balancer would). Under that load: kill -9 of a node, its restart, kill -9
 * of the oldest node (which holds the shard coordinators), a fourth node joining, and a rolling
 * restart of the three live nodes (SIGTERM, start, ready; the oldest last).
 *
 * <p>Asserted: every node of a simultaneous first start comes up and exactly one prints the operator
 * key; no acknowledged job is lost: each ends and settles exactly once; the project's budget
 * equals the sum of its jobs' costs to the micro-dollar with nothing left reserved; a SIGTERM exits
 * 0 each time. Measured and written to {@code target/cluster-crash/figures.md} (availability, acknowledgement
 * times, how long a dead node's entities stay unanswered): figures, not asserts, because this
 * machine's speed varies between runs (OPERATIONS.md records them).
 */
class ClusterCrashIT {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path OUT = Path.of("target", "cluster-crash");
  static final Duration PHASE = Duration.ofSeconds(25);
  /** How long the client's load balancer takes to notice a node went away (its health checks' period). */
  static final Duration HEALTH_CHECK_PERIOD = Duration.ofSeconds(5);

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir Path tmp;

  /** One node's ports; the process is replaced when the node is restarted. */
  static final class Node {
    final String name;
    final int http = TestNodes.freePort();
    final int remote = TestNodes.freePort();
    final int management = TestNodes.freePort();
    volatile NodeProcess process;
    int starts;
    /** As a load balancer sees it: ready since its last readiness check passed, until it went away. */
    volatile boolean ready;
    volatile Instant goneAt;

    /** A load balancer sends work here: it is ready, or it went away less than a health-check period ago (it has not noticed yet). */
    boolean routable(Instant now) {
      return ready || (goneAt != null && Duration.between(goneAt, now).compareTo(HEALTH_CHECK_PERIOD) < 0);
    }

    void gone() {
      ready = false;
      goneAt = Instant.now();
    }

    Node(String name) {
      this.name = name;
    }

    String base() {
      return "http://127.0.0.1:" + http;
    }
  }

  /** What one client call did: when, against which node first, whether it got a 2xx within one retry, and how long that took. */
  record Call(String kind, Instant at, boolean ok, long millis, int tries, String detail) {}

  final List<Node> nodes = new CopyOnWriteArrayList<>();
  final List<Call> calls = new CopyOnWriteArrayList<>();
  final Map<String, Instant> acceptedJobs = new ConcurrentHashMap<>();
  /** Every deadline job's deadline, from its acceptance. */
  static final Duration JOB_DEADLINE = Duration.ofMinutes(3);
  final Map<String, String> jobIdempotencyKeys = new ConcurrentHashMap<>();
  /** Submissions that got no answer within one retry, by idempotency key (their bodies). */
  final Map<String, String> unacknowledged = new ConcurrentHashMap<>();
  /** Per job, what each upload attempt got: a status, or the exception's name. */
  final Map<String, List<String>> uploadAttempts = new ConcurrentHashMap<>();
  final AtomicInteger roundRobin = new AtomicInteger();
  final StringBuilder figures = new StringBuilder();
  Map<String, String> env;
  String seeds;
  String memberKey;
  String provider;
  String realtimeKey;
  String adminKey;
  String projectId;

  @Test
  void threeNodesShrugOffKillNineTakeANewNodeAndStopCleanly() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      Files.createDirectories(OUT);
      env = environment(db);
      for (int i = 1; i <= 4; i++) nodes.add(new Node("node" + i));
      // Every node of the first three is a seed: a restarted seed joins through any seed that is up. With two
      // seeds, the second could not rejoin while the first was dead (a seed other than the first only joins seeds).
      seeds = "127.0.0.1:" + nodes.get(0).remote + ",127.0.0.1:" + nodes.get(1).remote + ",127.0.0.1:" + nodes.get(2).remote;
      NodeProcess fleet = null;
      ScheduledExecutorService load = Executors.newScheduledThreadPool(2);
      // Calls run on a pool of their own, so one waiting for a node does not delay the next tick.
      ExecutorService callers = Executors.newFixedThreadPool(32);
      // One upload per job at once, like many independent clients: a matched job holds fleet capacity
      // until its items come, so a small pool here would starve the fleet, not test Keld.
      ExecutorService uploads = Executors.newCachedThreadPool();
      try {
        // 1. Three nodes at once on an empty database: all come up, one operator key.
        Instant t0 = Instant.now();
        for (int i = 0; i < 3; i++) start(nodes.get(i));
        for (int i = 0; i < 3; i++) awaitReady(nodes.get(i), Duration.ofSeconds(240));
        note("first start: 3 nodes on an empty database, all ready after %d s", Duration.between(t0, Instant.now()).toSeconds());
        List<String> operatorKeys = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
          nodes.get(i).process.output.stream().map(String::trim).filter(l -> l.startsWith("keld_")).forEach(operatorKeys::add);
        }
        assertEquals(1, operatorKeys.size(), "exactly one node prints the operator key: " + operatorKeys);
        String operator = operatorKeys.get(0);

        // The operator's view: `keld cluster status` and the cluster meters agree on three Up members. A node is
        // ready once it is Up in its own view; the others may hear of that a gossip round later.
        for (int i = 0; i < 3; i++) awaitUpMembers(nodes.get(i), 3, Duration.ofSeconds(60));
        NodeProcess status = NodeProcess.start("cluster-status", OUT, Map.of("KELD_API_KEY", operator, "KELD_URL", nodes.get(1).base()),
            "cluster", "status", "--json");
        assertTrue(status.process.waitFor(60, TimeUnit.SECONDS) && status.process.exitValue() == 0, status.tail(20));
        Thread.sleep(200); // the drain thread reads the last lines
        JsonNode view = JSON.readTree(String.join("\n", status.output));
        assertEquals(3, upMembers(view), view.toString());
        assertEquals(7, view.path("books").size(), "every book has a home: " + view);
        assertTrue(get(nodes.get(2).base() + "/metrics", null).body().contains("keld_cluster_members{node=\"keld@127.0.0.1:" + nodes.get(2).remote
            + "\",status=\"up\"} 3.0"), "the cluster meters count three Up members");

        int fleetPort = TestNodes.freePort();
        fleet = NodeProcess.start("fleet", OUT, Map.of(), "sim-provider", "--port", "" + fleetPort, "--name", "simco", "--models", "sim-small",
            "--slots", "256", "--tokens-per-second", "4000", "--ttft-ms", "20");
        assertTrue(fleet.awaitLine("Simulated provider simco on", Duration.ofSeconds(60)), fleet.tail(20));
        market(operator, "http://127.0.0.1:" + fleetPort + "/v1");

        // 2. Load: 5 deadline jobs and 5 real-time requests a second, round-robin over the nodes.
        load.scheduleAtFixedRate(() -> callers.submit(() -> submitJob(uploads)), 0, 200, TimeUnit.MILLISECONDS);
        load.scheduleAtFixedRate(() -> callers.submit(this::realtime), 100, 200, TimeUnit.MILLISECONDS);
        Thread.sleep(10_000);

        // 3. kill -9 of a node that is not the oldest.
        String oldest = oldest(nodes.get(0));
        Node victim = nodes.subList(0, 3).stream().filter(n -> !oldest.endsWith(":" + n.remote)).reduce((a, b) -> b).orElseThrow();
        crash(victim, "kill -9 of " + victim.name + " (not the oldest)");

        // 4. It restarts with the same addresses and rejoins.
        start(victim);
        awaitReady(victim, Duration.ofSeconds(120));
        note("%s restarted and ready", victim.name);
        Thread.sleep(5_000);

        // 5. kill -9 of the oldest node (it holds the shard coordinators and the singletons).
        String oldestNow = oldest(victim);
        Node oldestNode = nodes.subList(0, 3).stream().filter(n -> oldestNow.endsWith(":" + n.remote)).findFirst().orElseThrow();
        crash(oldestNode, "kill -9 of " + oldestNode.name + " (the oldest)");

        // 6. Scale out: a fourth node joins under load.
        Instant joining = Instant.now();
        Node fourth = nodes.get(3);
        start(fourth);
        awaitReady(fourth, Duration.ofSeconds(120));
        Thread.sleep(10_000);
        note("scale-out: %s joined under load; calls in that window: %s", fourth.name, summary(calls(joining, Instant.now())));
        note("the summarize book after the scale-out: %s", get(fourth.base() + "/trade/v1/books/summarize", provider).body());

        // 7. A rolling restart of the three live nodes under load, the oldest last, as OPERATIONS.md
        // says: SIGTERM (it drains, leaves and exits 0), start it again, wait until it is ready.
        Instant rolling = Instant.now();
        List<Node> live = new ArrayList<>(survivors());
        String oldestLive = oldest(live.get(0));
        live.sort(java.util.Comparator.comparing(n -> oldestLive.endsWith(":" + n.remote)));
        for (Node n : live) {
          Instant term = Instant.now();
          n.gone(); // the node fails readiness at once on SIGTERM
          boolean clean = n.process.sigterm(Duration.ofSeconds(90));
          long stoppedIn = Duration.between(term, Instant.now()).toMillis();
          assertTrue(clean, "SIGTERM is a clean stop: " + n.process.tail(30));
          start(n);
          awaitReady(n, Duration.ofSeconds(120));
          note("rolling restart: %s exited 0 %d ms after SIGTERM, ready again after %d s", n.name, stoppedIn,
              Duration.between(term, Instant.now()).toSeconds());
          Thread.sleep(3_000);
        }
        note("rolling restart of %d nodes under load; calls in that window: %s", live.size(), summary(calls(rolling, Instant.now())));

        load.shutdown();
        assertTrue(load.awaitTermination(30, TimeUnit.SECONDS));
        callers.shutdown();
        assertTrue(callers.awaitTermination(60, TimeUnit.SECONDS));

        // 8. Every acknowledged job completes and settles exactly once; the budget balances.
        uploads.shutdown();
        assertTrue(uploads.awaitTermination(180, TimeUnit.SECONDS), "every upload finished");
        checkEveryJobSettledOnce(db);
        note("overall: %d jobs acknowledged; job submissions %s; real-time requests %s", acceptedJobs.size(),
            summary(calls.stream().filter(c -> c.kind().equals("job")).toList()),
            summary(calls.stream().filter(c -> c.kind().equals("realtime")).toList()));
      } finally {
        load.shutdownNow();
        callers.shutdownNow();
        uploads.shutdownNow();
        for (Node n : nodes) if (n.process != null && n.process.alive()) n.process.kill9();
        if (fleet != null) fleet.kill9();
        Files.writeString(OUT.resolve("figures.md"), figures.toString());
        System.out.println(figures);
      }
    }
  }

  private Map<String, String> environment(TestDatabase db) {
    Map<String, Object> settings = db.nodeSettings();
    byte[] masterKey = new byte[32];
    new SecureRandom().nextBytes(masterKey);
    Map<String, String> e = new HashMap<>();
    e.put("KELD_DB_URL", settings.get("keld.database.url").toString());
    e.put("KELD_DB_USER", settings.get("keld.database.user").toString());
    e.put("KELD_DB_PASSWORD", settings.get("keld.database.password").toString());
    e.put("KELD_DB_POOL_SIZE", "4");
    e.put("KELD_MASTER_KEY", Base64.getEncoder().encodeToString(masterKey));
    return e;
  }

  private void start(Node n) throws IOException {
    n.process = NodeProcess.start(n.name + (n.starts++ == 0 ? "" : "-start" + n.starts), OUT, env, "start", "--profile", "postgres",
        "--http-interface", "127.0.0.1", "--http-port", "" + n.http, "--remote-port", "" + n.remote, "--management-port", "" + n.management,
        "--otlp-port", "0", "--seed", seeds, "--data-dir", tmp.resolve(n.name).toString());
  }

  private void awaitReady(Node n, Duration patience) throws Exception {
    Instant giveUp = Instant.now().plus(patience);
    while (Instant.now().isBefore(giveUp)) {
      assertTrue(n.process.alive(), n.name + " exited: " + n.process.tail(40));
      try {
        if (get(n.base() + "/health/ready", null).statusCode() == 200) {
          n.ready = true;
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(250);
    }
    throw new AssertionError(n.name + " not ready within " + patience + ": " + n.process.tail(40));
  }

  /** Waits until {@code via} sees {@code count} members Up (Pekko Management's view of the cluster). */
  private void awaitUpMembers(Node via, int count, Duration patience) throws Exception {
    Instant giveUp = Instant.now().plus(patience);
    String seen = "";
    while (Instant.now().isBefore(giveUp)) {
      seen = get("http://127.0.0.1:" + via.management + "/cluster/members", null).body();
      if (upMembers(JSON.readTree(seen)) == count) return;
      Thread.sleep(250);
    }
    throw new AssertionError(via.name + " did not see " + count + " members Up within " + patience + ": " + seen);
  }

  /** How many of a cluster view's members (`keld cluster status --json`, or Pekko Management's) are Up. */
  private static long upMembers(JsonNode view) {
    return view.path("members").findValues("status").stream().filter(v -> v.asText().equals("Up")).count();
  }

  /** The oldest member's address, from Pekko Management on {@code via}. */
  private String oldest(Node via) throws Exception {
    JsonNode members = JSON.readTree(get("http://127.0.0.1:" + via.management + "/cluster/members", null).body());
    return members.path("oldest").asText();
  }

  /** kill -9 of {@code n}, then how the survivors answered in the next {@link #PHASE}. */
  private void crash(Node n, String what) throws Exception {
    Set<String> before = Set.copyOf(acceptedJobs.keySet());
    Instant killed = Instant.now();
    n.process.kill9();
    n.gone();
    // Every job acknowledged before the kill must answer again from a survivor; some lived on the dead
    // node. Each is asked on its own (2 s per try), so one waiting for its shard delays no other.
    Map<String, Long> answeredAfter = new ConcurrentHashMap<>();
    Instant giveUp = killed.plus(Duration.ofSeconds(90));
    ExecutorService pollers = Executors.newFixedThreadPool(16);
    for (String id : before) {
      pollers.submit(() -> {
        int attempt = 0;
        while (Instant.now().isBefore(giveUp)) {
          List<Node> live = survivors();
          Node survivor = live.get(Math.floorMod(id.hashCode() + attempt++, live.size()));
          try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(survivor.base() + "/ixp/v1/jobs/" + id)).timeout(Duration.ofSeconds(2))
                .header("Authorization", "Bearer " + adminKey).build();
            if (http.send(req, HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
              answeredAfter.put(id, Duration.between(killed, Instant.now()).toMillis());
              return;
            }
          } catch (IOException | RuntimeException e) {
            // not yet
          } catch (InterruptedException e) {
            return;
          }
          sleep(100);
        }
      });
    }
    pollers.shutdown();
    pollers.awaitTermination(100, TimeUnit.SECONDS);
    long slowest = answeredAfter.values().stream().mapToLong(Long::longValue).max().orElse(0);
    long unanswered = before.size() - answeredAfter.size();
    Thread.sleep(Math.max(0, Duration.between(Instant.now(), killed.plus(PHASE)).toMillis()));
    note("%s: jobs acknowledged before it all answer again from the survivors after %d ms (%d of %d never did within 90 s); "
        + "calls in the %d s after the kill: %s", what, slowest, unanswered, before.size(), PHASE.toSeconds(), summary(calls(killed, killed.plus(PHASE))));
    assertEquals(0, unanswered, "every job acknowledged before the kill answers again from a survivor");
  }

  private List<Node> survivors() {
    return nodes.stream().filter(n -> n.process != null && n.process.alive()).toList();
  }

  /**
   * Round-robin over the nodes a load balancer would send to (ready ones, and one that went away
   * less than a health-check period ago: it refuses or drops), with one retry on the next.
   */
  private HttpResponse<String> roundRobin(String kind, java.util.function.Function<Node, HttpRequest> request) {
    Instant at = Instant.now();
    long start = System.nanoTime();
    Instant now = Instant.now();
    List<Node> known = nodes.stream().filter(n -> n.routable(now)).toList();
    if (known.isEmpty()) {
      calls.add(new Call(kind, at, false, 0, 0, "no node to send to"));
      return null;
    }
    int first = Math.floorMod(roundRobin.getAndIncrement(), known.size());
    String detail = "";
    for (int attempt = 0; attempt < 2; attempt++) {
      Node target = known.get((first + attempt) % known.size());
      try {
        HttpResponse<String> r = http.send(request.apply(target), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 == 2) {
          calls.add(new Call(kind, at, true, (System.nanoTime() - start) / 1_000_000, attempt + 1, ""));
          return r;
        }
        detail = r.statusCode() + " " + r.body();
        if (r.statusCode() != 503 && r.statusCode() != 502 && r.statusCode() != 504) break;
      } catch (IOException e) {
        detail = e.getClass().getSimpleName();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    calls.add(new Call(kind, at, false, (System.nanoTime() - start) / 1_000_000, 2, detail));
    return null;
  }

  private void submitJob(ExecutorService uploads) {
    String key = "crash-" + System.nanoTime();
    String body = "{\"use_case\":\"summarize\",\"deadline\":\"" + JOB_DEADLINE + "\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":400,\"project_id\":\""
        + projectId + "\"}";
    HttpResponse<String> r = roundRobin("job", n -> HttpRequest.newBuilder(URI.create(n.base() + "/ixp/v1/jobs")).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + memberKey).header("Content-Type", "application/json").header("Idempotency-Key", key)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    if (r == null) {
      unacknowledged.put(key, body); // the job may exist all the same: its answer was lost
      return;
    }
    try {
      String id = JSON.readTree(r.body()).path("id").asText();
      acceptedJobs.put(id, Instant.now());
      jobIdempotencyKeys.put(id, key);
      uploads.submit(() -> upload(id));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private void realtime() {
    String body = "{\"model\":\"keld/summarize\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarize: a cluster lost a node.\"}],\"max_tokens\":16}";
    roundRobin("realtime", n -> HttpRequest.newBuilder(URI.create(n.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + realtimeKey).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build());
  }

  /** Sends the job's two items and reads their results, resuming on another node until each has one. */
  private void upload(String jobId) {
    Set<String> answered = ConcurrentHashMap.newKeySet();
    List<String> all = List.of(jobId + "-a", jobId + "-b");
    Instant giveUp = Instant.now().plus(Duration.ofMinutes(3));
    int attempt = 0;
    while (answered.size() < all.size() && Instant.now().isBefore(giveUp)) {
      List<Node> live = survivors();
      Node target = live.get(Math.floorMod(jobId.hashCode() + attempt++, live.size()));
      String lines = all.stream().filter(c -> !answered.contains(c))
          .map(c -> "{\"custom_id\":\"" + c + "\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"Summarize item " + c
              + "\"}],\"max_tokens\":40}}\n")
          .collect(Collectors.joining());
      try {
        HttpRequest req = HttpRequest.newBuilder(URI.create(target.base() + "/ixp/v1/jobs/" + jobId + "/items")).timeout(Duration.ofSeconds(60))
            .header("Authorization", "Bearer " + memberKey).header("Content-Type", "application/x-ndjson")
            .POST(HttpRequest.BodyPublishers.ofString(lines)).build();
        HttpResponse<java.io.InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        uploadAttempts.computeIfAbsent(jobId, k -> new CopyOnWriteArrayList<>()).add(target.name + ":" + r.statusCode());
        if (r.statusCode() == 200) {
          try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
              JsonNode result = JSON.readTree(line);
              if (result.hasNonNull("custom_id")) answered.add(result.path("custom_id").asText());
            }
          }
        } else {
          r.body().close();
          if (r.statusCode() == 409) return; // the job has ended; the check below says whether it completed
        }
      } catch (IOException e) {
        // the node went away mid-upload: resume on another
        uploadAttempts.computeIfAbsent(jobId, k -> new CopyOnWriteArrayList<>()).add(target.name + ":" + e.getClass().getSimpleName());
      } catch (InterruptedException e) {
        return;
      }
      if (answered.size() < all.size()) sleep(1_000);
    }
  }

  private void checkEveryJobSettledOnce(TestDatabase db) throws Exception {
    // A submission that got no answer may still have made its job (the answer was lost in the
    // crash). The client does what the protocol says: it sends it again with the same key, which
    // returns that job (or makes it now), then cancels it, so its reservation is given back.
    Set<String> cancelled = new java.util.TreeSet<>();
    for (Map.Entry<String, String> u : unacknowledged.entrySet()) {
      String base = survivors().get(0).base();
      HttpResponse<String> again = http.send(HttpRequest.newBuilder(URI.create(base + "/ixp/v1/jobs")).timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + memberKey).header("Content-Type", "application/json").header("Idempotency-Key", u.getKey())
          .POST(HttpRequest.BodyPublishers.ofString(u.getValue())).build(), HttpResponse.BodyHandlers.ofString());
      assertTrue(again.statusCode() == 200 || again.statusCode() == 201, "a resubmission answers the job: " + again.body());
      String id = JSON.readTree(again.body()).path("id").asText();
      if (again.statusCode() == 200) cancelled.add(id); // it existed: made by the first try
      HttpResponse<String> cancel = http.send(HttpRequest.newBuilder(URI.create(base + "/ixp/v1/jobs/" + id + "/cancel"))
          .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + memberKey).POST(HttpRequest.BodyPublishers.noBody()).build(),
          HttpResponse.BodyHandlers.ofString());
      assertTrue(cancel.statusCode() == 200 || cancel.statusCode() == 409, "cancelled, or already ended: " + cancel.body());
      acceptedJobs.putIfAbsent(id, Instant.now());
    }
    note("%d submissions got no answer; resent with their keys, %d of them had made their job (then cancelled)", unacknowledged.size(),
        cancelled.size());
    Map<String, JsonNode> views = new LinkedHashMap<>();
    Instant checkStarted = Instant.now();
    for (Map.Entry<String, Instant> accepted : acceptedJobs.entrySet()) {
      String id = accepted.getKey();
      // A job waiting for items a killed or stopped node never reported ends only at its deadline
      // (deadline_missed): each job gets until its deadline and a settling margin, at least 120 s
      // from the check's start.
      Instant giveUp = max(checkStarted.plus(Duration.ofSeconds(120)), accepted.getValue().plus(JOB_DEADLINE).plus(Duration.ofSeconds(60)));
      JsonNode v = null;
      String lastAnswer = "none"; // what the last try got, for the failure message
      // The jobs are checked one after another: one whose turn comes after its give-up time (earlier
      // jobs waited for their deadlines) still gets 15 s of tries, instead of failing unasked.
      giveUp = max(giveUp, Instant.now().plus(Duration.ofSeconds(15)));
      while (Instant.now().isBefore(giveUp)) {
        try {
          HttpResponse<String> r = get(survivors().get(0).base() + "/ixp/v1/jobs/" + id, adminKey);
          lastAnswer = r.statusCode() + " " + r.body();
          if (r.statusCode() == 200) {
            v = JSON.readTree(r.body());
            if (v.path("settled").asBoolean()) break;
          }
        } catch (IOException e) {
          lastAnswer = e.toString(); // ask again
        }
        Thread.sleep(250);
      }
      assertTrue(v != null && v.path("settled").asBoolean(), "job " + id + " (accepted " + accepted.getValue() + ") settled: " + v
          + "; the last try, at " + Instant.now() + " from " + survivors().get(0).base() + ", got: " + lastAnswer);
      views.put(id, v);
    }
    Map<String, Long> byState = views.values().stream().collect(Collectors.groupingBy(v -> v.path("state").asText(), Collectors.counting()));
    note("jobs by final state: %s", byState);
    views.values().stream().filter(v -> !v.path("state").asText().equals("completed")).limit(3)
        .forEach(v -> note("a job that did not complete: %s; its uploads: %s", v, uploadAttempts.get(v.path("id").asText())));
    note("the summarize book at the end: %s", get(survivors().get(0).base() + "/trade/v1/books/summarize", provider).body());
    // Not asserted: that every job completed. A job whose items were answered by a node killed
    // before it reported them to the job (up to one report interval) waits for items it will never
    // hear of and ends deadline_missed, settled for what it knows (OPERATIONS.md, known holes).
    assertTrue(byState.keySet().stream().allMatch(s -> Set.of("completed", "deadline_missed", "cancelled").contains(s)), "jobs ended: " + byState);
    assertTrue(byState.getOrDefault("cancelled", 0L) <= unacknowledged.size(), "only the resent ones were cancelled");

    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT persistence_id, count(*) FROM event_journal WHERE persistence_id LIKE 'DeadlineJob|%' "
            + "AND event_ser_manifest LIKE '%$Settled' GROUP BY persistence_id");
        ResultSet rs = ps.executeQuery()) {
      Map<String, Integer> settledEvents = new HashMap<>();
      while (rs.next()) settledEvents.put(rs.getString(1).substring("DeadlineJob|".length()), rs.getInt(2));
      for (String id : views.keySet()) assertEquals(1, settledEvents.getOrDefault(id, 0), "job " + id + " settled exactly once");
    }

    long costs = views.values().stream().mapToLong(v -> v.path("cost_micro_usd").asLong()).sum();
    JsonNode budget = JSON.readTree(get(survivors().get(0).base() + "/atlas/v1/projects/" + projectId + "/budget", adminKey).body());
    note("budget of the jobs' project: spent %d micro-USD, reserved %d; the jobs' costs sum to %d", budget.path("spent_micro_usd").asLong(),
        budget.path("reserved_micro_usd").asLong(), costs);
    assertEquals(costs, budget.path("spent_micro_usd").asLong(), "the budget's spend is the sum of the jobs' costs");
    assertEquals(0, budget.path("reserved_micro_usd").asLong(), "nothing left reserved");
  }

  /** A provider with the fleet as its endpoint and an ask on summarize; an enterprise with two projects and keys. */
  private void market(String operator, String fleetUrl) throws Exception {
    String base = nodes.get(0).base();
    String providerOrg = post(base, "/atlas/v1/orgs", operator, "{\"name\":\"SimCo\",\"kind\":\"provider\"}").path("id").asText();
    provider = post(base, "/atlas/v1/orgs/" + providerOrg + "/keys", operator, "{\"name\":\"p\",\"role\":\"provider\"}").path("key").asText();
    post(base, "/trade/v1/endpoints", provider, "{\"name\":\"fleet\",\"base_url\":\"" + fleetUrl + "\"}");
    send(base, "PUT", "/trade/v1/models/sim-small", provider, "{\"use_cases\":[\"summarize\"]}", 200);
    post(base, "/trade/v1/asks", provider,
        "{\"model\":\"sim-small\",\"use_case\":\"summarize\",\"price_per_mtok\":400000,\"quality\":80,\"throughput_tps\":400000,\"max_concurrency\":256}");

    String org = post(base, "/atlas/v1/orgs", operator, "{\"name\":\"Acme\",\"kind\":\"enterprise\"}").path("id").asText();
    adminKey = post(base, "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"admin\",\"role\":\"admin\"}").path("key").asText();
    String team = post(base, "/atlas/v1/orgs/" + org + "/teams", adminKey, "{\"name\":\"research\"}").path("id").asText();
    projectId = post(base, "/atlas/v1/teams/" + team + "/projects", adminKey, "{\"name\":\"nightly\"}").path("id").asText();
    String realtimeProject = post(base, "/atlas/v1/teams/" + team + "/projects", adminKey, "{\"name\":\"chat\"}").path("id").asText();
    send(base, "PUT", "/atlas/v1/projects/" + projectId + "/budget", adminKey, "{\"period\":\"month\",\"hard_cap_micro_usd\":1000000000}", 200);
    memberKey = post(base, "/atlas/v1/orgs/" + org + "/keys", adminKey, "{\"name\":\"jobs\",\"role\":\"member\",\"project_id\":\"" + projectId + "\"}")
        .path("key").asText();
    realtimeKey = post(base, "/atlas/v1/orgs/" + org + "/keys", adminKey,
        "{\"name\":\"chat\",\"role\":\"member\",\"project_id\":\"" + realtimeProject + "\"}").path("key").asText();
  }

  private JsonNode post(String base, String path, String key, String body) throws Exception {
    return send(base, "POST", path, key, body, 201);
  }

  private JsonNode send(String base, String method, String path, String key, String body, int expected) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), method + " " + path + ": " + r.body());
    return JSON.readTree(r.body());
  }

  private HttpResponse<String> get(String url, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    if (key != null) b.header("Authorization", "Bearer " + key);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private List<Call> calls(Instant from, Instant to) {
    return calls.stream().filter(c -> !c.at().isBefore(from) && c.at().isBefore(to)).toList();
  }

  /** Per kind: succeeded/total (%), retried, p50/p99/max milliseconds to a 2xx, the first failures. */
  static String summary(List<Call> window) {
    StringBuilder s = new StringBuilder();
    Map<String, List<Call>> byKind = window.stream().collect(Collectors.groupingBy(Call::kind, java.util.TreeMap::new, Collectors.toList()));
    byKind.forEach((kind, list) -> {
      long ok = list.stream().filter(Call::ok).count();
      long retried = list.stream().filter(c -> c.ok() && c.tries() > 1).count();
      long[] ms = list.stream().filter(Call::ok).mapToLong(Call::millis).sorted().toArray();
      s.append(String.format("%s %d/%d ok (%.1f%%), %d after a retry, ack p50 %d ms p99 %d ms max %d ms", kind, ok, list.size(),
          list.isEmpty() ? 100.0 : 100.0 * ok / list.size(), retried, pct(ms, 0.50), pct(ms, 0.99), ms.length == 0 ? 0 : ms[ms.length - 1]));
      list.stream().filter(c -> !c.ok()).limit(3).forEach(c -> s.append("; failed: ").append(c.detail(), 0, Math.min(160, c.detail().length())));
      s.append(" | ");
    });
    return s.toString();
  }

  static long pct(long[] sorted, double q) {
    if (sorted.length == 0) return 0;
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }

  private void note(String format, Object... args) {
    String line = "- " + Instant.now() + " " + String.format(format, args);
    figures.append(line).append('\n');
    System.out.println(line);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Instant max(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }
}
