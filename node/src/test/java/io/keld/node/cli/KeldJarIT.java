package io.keld.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.node.testing.TestNodes;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar, started as a real process the way {@code ./keld start} runs it: it becomes
 * ready, serves health and Prometheus metrics, answers errors as problem+json, and a SIGTERM makes
 * it leave the cluster and exit 0. On a fresh data directory it prints the operator bootstrap key,
 * and {@code keld keys create} issues a key through the running node.
 */
class KeldJarIT {

  private static final Path JAR = Path.of(System.getProperty("keld.jar", "target/keld.jar"));
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir Path dataDir;

  @Test
  void startServesHealthAndMetricsAndExitsZeroOnSigterm() throws Exception {
    int httpPort = TestNodes.freePort();
    Process keld = java("start", "--http-port", "" + httpPort, "--remote-port", "" + TestNodes.freePort(), "--otlp-port", "" + TestNodes.freePort(),
        "--management-port", "" + TestNodes.freePort(), "--data-dir", dataDir.toString());
    List<String> output = drain(keld);
    try {
      String base = "http://127.0.0.1:" + httpPort;
      HttpResponse<String> ready = awaitReady(base + "/health/ready", Duration.ofSeconds(90), output);
      assertEquals("{\"status\":\"ready\"}", ready.body());
      assertTrue(output.stream().anyMatch(l -> l.contains("Keld HTTP API on http://localhost:" + httpPort)), "prints where it listens: " + output);
      assertTrue(awaitLine(output, "Keld node ready", Duration.ofSeconds(10)), "prints that it is ready: " + output);
      assertTrue(Files.exists(dataDir.resolve("h2/keld.mv.db")), "the embedded database lives under --data-dir");

      assertEquals(200, get(base + "/health/alive").statusCode());

      HttpResponse<String> metrics = get(base + "/metrics");
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"), metrics.headers().toString());
      assertTrue(metrics.body().contains("# TYPE jvm_memory_used_bytes gauge"), "JVM metrics");
      assertTrue(metrics.body().contains("keld_http_server_requests_seconds_count{method=\"GET\""), "HTTP metrics");
      assertTrue(metrics.body().lines().anyMatch(l -> l.startsWith("keld_projection_lag_events{") && l.contains("projection=\"statement\"")),
          "the statement projection's lag: " + metrics.body().lines().filter(l -> l.contains("projection")).toList());
      assertTrue(metrics.body().lines().anyMatch(l -> l.startsWith("keld_projection_lag_events{") && l.contains("projection=\"jobs\"")),
          "the job projection's lag: " + metrics.body().lines().filter(l -> l.contains("projection")).toList());

      HttpResponse<String> missing = get(base + "/no/such/thing");
      assertEquals(404, missing.statusCode());
      assertEquals("application/problem+json", missing.headers().firstValue("Content-Type").orElse(""));
      assertTrue(missing.body().contains("\"type\":\"https://keld.io/problems/not-found\""), missing.body());

      // The bootstrap key, printed once on a fresh data directory, is an operator key.
      String operatorKey = output.stream().map(String::trim).filter(l -> l.startsWith("keld_")).findFirst()
          .orElseThrow(() -> new AssertionError("no bootstrap key printed: " + output));
      HttpResponse<String> me = send("GET", base + "/atlas/v1/me", operatorKey, null);
      assertEquals(200, me.statusCode(), me.body());
      assertTrue(me.body().contains("\"role\":\"operator\""), me.body());
      HttpResponse<String> org = send("POST", base + "/atlas/v1/orgs", operatorKey, "{\"name\":\"Acme\",\"kind\":\"enterprise\"}");
      assertEquals(201, org.statusCode(), org.body());
      String orgId = org.body().replaceAll(".*\"id\":\"(org_[a-z0-9]+)\".*", "$1");

      // `keld keys create` against the running node prints the new key, alone, on stdout.
      ProcessBuilder pb = command("keys", "create", "--url", base, "--org", orgId, "--role", "admin", "--name", "first-admin");
      pb.environment().put("KELD_API_KEY", operatorKey);
      Process create = pb.redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String printed = new String(create.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertTrue(create.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, create.exitValue(), printed);
      assertTrue(printed.startsWith("keld_") && !printed.contains("\n"), printed);
      HttpResponse<String> adminMe = send("GET", base + "/atlas/v1/me", printed, null);
      assertTrue(adminMe.body().contains("\"role\":\"admin\"") && adminMe.body().contains(orgId), adminMe.body());
    } finally {
      // SIGTERM through the handle: Process.destroy() would also close our end of its output.
      keld.toHandle().destroy();
    }
    assertTrue(keld.waitFor(60, TimeUnit.SECONDS), "keld stops within a minute of SIGTERM");
    assertEquals(0, keld.exitValue(), "SIGTERM is a clean stop: " + output);
    assertTrue(awaitLine(output, "Keld node stopped.", Duration.ofSeconds(5)), output.toString());
  }

  @Test
  void versionAndUsageErrors() throws Exception {
    Process version = java("version");
    List<String> out = drain(version);
    assertTrue(version.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, version.exitValue());
    assertTrue(awaitLine(out, "keld 0.", Duration.ofSeconds(5)), out.toString());

    Process badProfile = java("start", "--profile", "nonsense");
    List<String> err = drain(badProfile);
    assertTrue(badProfile.waitFor(60, TimeUnit.SECONDS));
    assertEquals(2, badProfile.exitValue(), "a usage error exits 2");
    assertTrue(awaitLine(err, "unknown profile 'nonsense'", Duration.ofSeconds(5)), err.toString());
  }

  @Test
  void projectionsAreListedAndRebuiltInTheNodesDatabase() throws Exception {
    Process unknown = java("projections", "rebuild", "nosuch", "--data-dir", dataDir.toString());
    List<String> unknownOut = drain(unknown);
    assertTrue(unknown.waitFor(90, TimeUnit.SECONDS));
    assertEquals(2, unknown.exitValue(), unknownOut.toString());
    assertTrue(awaitLine(unknownOut, "no projection named nosuch", Duration.ofSeconds(5)), unknownOut.toString());

    Process rebuild = java("projections", "rebuild", "statement", "--data-dir", dataDir.toString());
    List<String> rebuildOut = drain(rebuild);
    assertTrue(rebuild.waitFor(90, TimeUnit.SECONDS));
    assertEquals(0, rebuild.exitValue(), rebuildOut.toString());
    assertTrue(awaitLine(rebuildOut, "Rebuilding statement from offset 0", Duration.ofSeconds(5)), rebuildOut.toString());

    // The jobs' read sides too (on H2 here: the ledger's rollups are taken out with standard SQL).
    Process rebuildJobs = java("projections", "rebuild", "jobs", "--data-dir", dataDir.toString());
    List<String> rebuildJobsOut = drain(rebuildJobs);
    assertTrue(rebuildJobs.waitFor(90, TimeUnit.SECONDS));
    assertEquals(0, rebuildJobs.exitValue(), rebuildJobsOut.toString());
    assertTrue(awaitLine(rebuildJobsOut, "Rebuilding jobs from offset 0", Duration.ofSeconds(5)), rebuildJobsOut.toString());

    Process list = java("projections", "list", "--data-dir", dataDir.toString());
    List<String> listOut = drain(list);
    assertTrue(list.waitFor(90, TimeUnit.SECONDS));
    assertEquals(0, list.exitValue(), listOut.toString());
    assertTrue(awaitLine(listOut, "statement\treads=OrderBook|<use case>\toffset=", Duration.ofSeconds(5)), listOut.toString());
    assertTrue(awaitLine(listOut, "jobs\treads=jobs\toffset=", Duration.ofSeconds(5)), listOut.toString());
    assertTrue(awaitLine(listOut, "budget-alerts\treads=budget-alerts\toffset=", Duration.ofSeconds(5)), listOut.toString());
  }

  private static Process java(String... args) throws IOException {
    return command(args).redirectErrorStream(true).start();
  }

  private static ProcessBuilder command(String... args) {
    assertTrue(Files.exists(JAR), "the packaged jar exists at " + JAR.toAbsolutePath());
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd);
  }

  private HttpResponse<String> send(String method, String url, String key, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + key);
    b = json == null ? b.method(method, HttpRequest.BodyPublishers.noBody())
        : b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Reads the process's output on a thread of its own, so it never blocks on a full pipe. */
  private static List<String> drain(Process p) {
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) lines.add(line);
      } catch (IOException ignored) {
        // the process ended
      }
    });
    t.setDaemon(true);
    t.start();
    return lines;
  }

  private static boolean awaitLine(List<String> lines, String fragment, Duration patience) throws InterruptedException {
    Instant giveUp = Instant.now().plus(patience);
    while (Instant.now().isBefore(giveUp)) {
      if (lines.stream().anyMatch(l -> l.contains(fragment))) return true;
      Thread.sleep(50);
    }
    return false;
  }

  private HttpResponse<String> awaitReady(String url, Duration patience, List<String> output) throws Exception {
    Instant giveUp = Instant.now().plus(patience);
    HttpResponse<String> last = null;
    while (Instant.now().isBefore(giveUp)) {
      try {
        last = get(url);
        if (last.statusCode() == 200) return last;
      } catch (IOException notYetListening) {
        // keep polling
      }
      Thread.sleep(200);
    }
    throw new AssertionError("not ready within " + patience + "; last answer " + (last == null ? "none" : last.statusCode() + " " + last.body()) + "; output " + output);
  }

  private HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
