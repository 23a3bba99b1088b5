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
 * it leave the cluster and exit 0.
 */
class KeldJarIT {

  private static final Path JAR = Path.of(System.getProperty("keld.jar", "target/keld.jar"));
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir Path dataDir;

  @Test
  void startServesHealthAndMetricsAndExitsZeroOnSigterm() throws Exception {
    int httpPort = TestNodes.freePort();
    Process keld = java("start", "--http-port", "" + httpPort, "--remote-port", "" + TestNodes.freePort(),
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

      HttpResponse<String> missing = get(base + "/no/such/thing");
      assertEquals(404, missing.statusCode());
      assertEquals("application/problem+json", missing.headers().firstValue("Content-Type").orElse(""));
      assertTrue(missing.body().contains("\"type\":\"https://keld.io/problems/not-found\""), missing.body());
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

  private static Process java(String... args) throws IOException {
    assertTrue(Files.exists(JAR), "the packaged jar exists at " + JAR.toAbsolutePath());
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
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
