package io.keld.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.ixp.client.IxpClient;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.node.testing.DemoWorld;
import io.keld.sim.FleetSettings;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code keld jobs} as a user runs it: the real CLI in a process of its own, against a running node
 * with the demo's simulated provider fleets over real HTTP. A 2,000-line OpenAI Batch file runs to a
 * complete output that OpenAI's batch output schema accepts; a run killed at ~40% and run again ends
 * with exactly one result per custom_id; bad lines are reported with their numbers while the rest
 * run; an over-limit file is refused before anything is submitted; progress shows as plain lines and
 * as a bar.
 */
class JobsCliTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Generous: each CLI is a JVM of its own, and this machine is shared with other builds (load averages of 20 on 2 cores seen). */
  private static final Duration PATIENCE = Duration.ofMinutes(5);
  private static final Duration LONG_PATIENCE = Duration.ofMinutes(10);
  private static DemoWorld world;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    world = DemoWorld.start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) world.close();
  }

  @Test
  void aTwoThousandLineOpenAiBatchFileRunsToACompleteValidOutput() throws Exception {
    Path input = openAiBatch(dir.resolve("batch.jsonl"), "doc", 2000);
    Run run = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2", "--category", "enrichment", "--tag", "run=cli-test",
        "--progress", "lines", "--progress-every", "1").await(LONG_PATIENCE);

    assertEquals(0, run.exit, run.toString());
    Path output = dir.resolve("batch.results.jsonl");
    List<JsonNode> lines = readJsonLines(output);
    assertEquals(2000, lines.size(), "one output line per input line");
    Set<String> ids = new HashSet<>();
    for (JsonNode line : lines) {
      assertOpenAiBatchOutputLine(line);
      assertTrue(ids.add(line.get("custom_id").asText()), "custom_id once: " + line.get("custom_id"));
      assertEquals(200, line.get("response").get("status_code").asInt());
      assertTrue(line.get("response").get("body").path("usage").path("total_tokens").asLong() > 0, line.toString());
    }
    assertEquals(expectedIds("doc", 2000), ids);

    String stdout = String.join("\n", run.stdout);
    assertTrue(stdout.contains("Quote (chat"), "the quote first: " + stdout);
    assertTrue(stdout.contains("clears at") && stdout.contains("prv_demo_swift"), stdout);
    assertTrue(stdout.indexOf("Quote (") < stdout.indexOf("Submitted job job_"), "quoted before submitting: " + stdout);
    assertTrue(stdout.contains("2,000 succeeded, 0 failed, 0 without a result"), stdout);
    assertTrue(stdout.contains("completed") && stdout.contains("$0.3/Mtok (prv_demo_swift sim-small)"), "the clearing price: " + stdout);
    // Plain progress lines on a pipe, one a second, ending at all items done.
    List<String> progress = run.stderr.stream().filter(l -> l.contains(" progress: ")).toList();
    assertTrue(progress.size() >= 2, "periodic progress lines: " + run.stderr);
    assertTrue(progress.get(progress.size() - 1).contains("2,000/2,000 items done (100%)"), progress.toString());
    assertFalse(String.join("", run.stderr).contains("\r"), "no terminal control on a pipe");

    // The job itself: completed, settled, its tokens and category as the run said.
    String jobId = jobIdOf(run);
    JobResource job = client().get(jobId);
    assertEquals("completed", job.state());
    assertTrue(job.settled());
    assertEquals("enrichment", job.jobCategory());
    assertEquals(Map.of("run", "cli-test"), job.tags());
    assertEquals(2000, job.progress().itemsAnswered());

    // The same command again: the same job (idempotency key), nothing sent twice, the same output.
    Run again = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2", "--category", "enrichment", "--tag", "run=cli-test",
        "--progress", "lines").await(PATIENCE);
    assertEquals(0, again.exit, again.toString());
    assertEquals(jobId, jobIdOf(again));
    assertTrue(String.join("\n", again.stdout).contains("Resuming job " + jobId), again.toString());
    assertEquals(2000, readJsonLines(output).size(), "nothing written twice");
  }

  @Test
  void aRunKilledAtFortyPercentResumesTheSameJobWithExactlyOneResultPerCustomId() throws Exception {
    // A slower fleet, so the kill lands mid-run.
    world.fleet("prv_demo_swift").update(FleetSettings.healthy(4, 200, 50));
    try {
      Path input = openAiBatch(dir.resolve("slow.jsonl"), "slow", 2000);
      Path output = dir.resolve("slow.results.jsonl");
      String[] args = {"jobs", "run", input.toString(), "--deadline", "20m", "--ceiling", "2", "--progress", "lines"};
      Run first = keld(args);
      long giveUp = System.nanoTime() + Duration.ofMinutes(3).toNanos();
      while (lineCount(output) < 800 && System.nanoTime() < giveUp && first.process.isAlive()) Thread.sleep(20);
      long atKill = lineCount(output);
      first.process.destroyForcibly(); // SIGKILL: no shutdown hook, nothing flushed on the way out
      assertTrue(first.process.waitFor(30, TimeUnit.SECONDS));
      assertTrue(atKill >= 800 && atKill < 2000, "killed mid-run, at " + atKill + " results: " + first);
      String jobId = jobIdOf(first);
      assertFalse(JobResource.terminal(client().get(jobId).state()), "a dropped client leaves the job running");

      world.fleet("prv_demo_swift").update(FleetSettings.healthy(16, 400, 50));
      Run second = keld(args).await(LONG_PATIENCE);
      assertEquals(0, second.exit, second.toString());
      assertEquals(jobId, jobIdOf(second), "the same command resumes the same job");
      assertTrue(String.join("\n", second.stdout).contains("already there"), second.toString());

      List<JsonNode> lines = readJsonLines(output);
      Map<String, Integer> perId = new HashMap<>();
      for (JsonNode line : lines) {
        assertOpenAiBatchOutputLine(line);
        perId.merge(line.get("custom_id").asText(), 1, Integer::sum);
      }
      assertEquals(expectedIds("slow", 2000), perId.keySet(), "every custom_id has a result");
      assertTrue(perId.values().stream().allMatch(n -> n == 1), "exactly one result per custom_id: "
          + perId.entrySet().stream().filter(e -> e.getValue() > 1).limit(5).toList());
      JobResource job = client().get(jobId);
      assertEquals("completed", job.state());
    } finally {
      world.fleet("prv_demo_swift").update(FleetSettings.healthy(16, 400, 50));
    }
  }

  @Test
  void whenTheProviderStallsMidRunTheJobIsReroutedAndTheRunStillCompletes() throws Exception {
    Path input = openAiBatch(dir.resolve("stall.jsonl"), "stall", 400);
    Path output = dir.resolve("stall.results.jsonl");
    try {
      Run run = keld("jobs", "run", input.toString(), "--use-case", "summarize", "--deadline", "10m", "--ceiling", "2", "--progress", "lines");
      long giveUp = System.nanoTime() + Duration.ofMinutes(2).toNanos();
      while (lineCount(output) < 60 && System.nanoTime() < giveUp && run.process.isAlive()) Thread.sleep(10);
      assertTrue(run.process.isAlive(), "still running when the fleet stalls: " + run);
      // The cheapest fleet now hangs every request: the job must move its work to the next ask.
      world.fleet("prv_demo_swift").update(new FleetSettings(16, 400, 50, 0, 1.0, 20_000, 0));
      run.await(LONG_PATIENCE);
      assertEquals(0, run.exit, run.toString());

      List<JsonNode> lines = readJsonLines(output);
      Set<String> ids = new HashSet<>();
      for (JsonNode line : lines) assertTrue(ids.add(line.get("custom_id").asText()), "once: " + line.get("custom_id"));
      assertEquals(expectedIds("stall", 400), ids);
      JobResource job = client().get(jobIdOf(run));
      assertEquals("completed", job.state());
      assertTrue(job.reroutes() >= 1, "re-routed: " + job.timeline());
      assertEquals("prv_demo_sage", job.match().providerId(), "finished on the next ask");
      assertTrue(String.join("\n", run.stdout).contains("re-routes " + job.reroutes()), run.toString());
    } finally {
      world.fleet("prv_demo_swift").update(FleetSettings.healthy(16, 400, 50));
    }
  }

  @Test
  void badLinesAreReportedWithTheirNumbersAndTheRestRun() throws Exception {
    Path input = dir.resolve("mixed.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 20; i++) lines.add(openAiLine("ok-" + i, "/v1/chat/completions"));
    lines.set(3, "{this is not json");                                                    // line 4
    lines.set(7, "{\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[]}}"); // line 8: no custom_id
    lines.set(11, openAiLine("ok-2", "/v1/chat/completions"));                               // line 12: ok-2 again
    lines.set(15, openAiLine("vec-1", "/v1/embeddings"));                                    // line 16: embeddings in a chat job
    Files.write(input, lines, StandardCharsets.UTF_8);

    Run run = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2", "--progress", "lines").await(PATIENCE);
    assertEquals(1, run.exit, "some items failed: " + run);
    String stderr = String.join("\n", run.stderr);
    assertTrue(stderr.contains("line 4 is not JSON"), stderr);
    assertTrue(stderr.contains("line 8 needs a custom_id"), stderr);
    assertTrue(stderr.contains("line 12 repeats custom_id 'ok-2' of line 3"), "the duplicate is named: " + stderr);
    assertTrue(stderr.contains("line 16 is for /v1/embeddings but the job runs /v1/chat/completions"), stderr);

    List<JsonNode> out = readJsonLines(dir.resolve("mixed.results.jsonl"));
    assertEquals(20, out.size(), "one line per input line, bad ones included");
    Map<Long, JsonNode> errorsByLine = new HashMap<>();
    long succeeded = 0;
    for (JsonNode line : out) {
      assertOpenAiBatchOutputLine(line);
      if (line.get("error").isNull()) succeeded++;
      else errorsByLine.put(line.get("error").get("line").asLong(), line);
    }
    assertEquals(16, succeeded, "the good lines ran");
    assertEquals(Set.of(4L, 8L, 12L, 16L), errorsByLine.keySet());
    assertEquals("duplicate_custom_id", errorsByLine.get(12L).get("error").get("code").asText());
    assertTrue(errorsByLine.get(12L).get("custom_id").isNull(), "ok-2's one result is its first line's");
    assertEquals("url_mismatch", errorsByLine.get(16L).get("error").get("code").asText());
    assertTrue(String.join("\n", run.stdout).contains("16 succeeded, 4 failed"), run.toString());

    // Run again: nothing left to send, nothing written twice.
    Run again = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2", "--progress", "lines").await(PATIENCE);
    assertEquals(1, again.exit, again.toString());
    assertEquals(20, readJsonLines(dir.resolve("mixed.results.jsonl")).size());
  }

  @Test
  void aFileOverTheJobLimitIsRefusedBeforeAnythingIsSubmitted() throws Exception {
    Path input = dir.resolve("huge.jsonl");
    try (Writer w = Files.newBufferedWriter(input)) {
      for (int i = 0; i < 100_001; i++) w.write("{\"custom_id\":\"h" + i + "\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}\n");
    }
    int jobsBefore = client().list(Map.of("limit", "200", "realtime", "false")).data().size();
    Run run = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2").await(PATIENCE);
    assertEquals(2, run.exit, run.toString());
    assertTrue(String.join("\n", run.stderr).contains("100,001 items; a job takes at most 100,000"), run.toString());
    assertFalse(String.join("\n", run.stdout).contains("Quote"), "nothing asked of the node");
    world.awaitJobsProjected(); // the job index is a projection of the jobs' journal
    assertEquals(jobsBefore, client().list(Map.of("limit", "200", "realtime", "false")).data().size(), "no job submitted");
    assertFalse(Files.exists(dir.resolve("huge.results.jsonl")));

    Run usage = keld("jobs", "run", input.toString(), "--ceiling", "2").await(PATIENCE);
    assertEquals(2, usage.exit, "a missing --deadline is a usage error: " + usage);
  }

  @Test
  void onATerminalProgressIsABar() throws Exception {
    Path input = openAiBatch(dir.resolve("bar.jsonl"), "bar", 200);
    Path script = Path.of("/usr/bin/script");
    Run run;
    if (Files.isExecutable(script)) {
      // A real terminal (a pty from util-linux's script): the bar is chosen on its own.
      List<String> java = javaCommand("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2");
      ProcessBuilder pb = new ProcessBuilder(script.toString(), "-qec", String.join(" ", java.stream().map(a -> "'" + a + "'").toList()), "/dev/null");
      run = new Run(withEnv(pb).start()).await(PATIENCE);
    } else {
      run = keld("jobs", "run", input.toString(), "--deadline", "10m", "--ceiling", "2", "--progress", "bar").await(PATIENCE);
    }
    assertEquals(0, run.exit, run.toString());
    String shown = String.join("\n", run.stdout) + String.join("\n", run.stderr);
    assertTrue(shown.contains("items 100%") && shown.contains("200/200"), "a bar, drawn to the end: " + run);
    assertTrue(shown.contains("\r"), "redrawn in place");
    assertFalse(shown.contains(" progress: "), "no plain lines");
  }

  @Test
  void keldResultLinesForKeldInputAndJobsCommandsOnTheJob() throws Exception {
    Path input = dir.resolve("keld.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      lines.add("{\"custom_id\":\"k-" + i + "\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"classify " + i + "\"}],\"max_tokens\":8}}");
    }
    Files.write(input, lines, StandardCharsets.UTF_8);
    Path output = dir.resolve("labels.jsonl");
    Run run = keld("jobs", "run", input.toString(), "--use-case", "classify", "--deadline", "10m", "--ceiling", "2", "--output", output.toString(),
        "--progress", "lines").await(PATIENCE);
    assertEquals(0, run.exit, run.toString());
    List<JsonNode> out = readJsonLines(output);
    assertEquals(30, out.size());
    for (JsonNode r : out) {
      assertFalse(r.has("id"), "Keld's result lines, not OpenAI's: " + r);
      assertEquals(200, r.get("response").get("status_code").asInt());
    }
    String jobId = jobIdOf(run);

    Run get = keld("jobs", "get", jobId, "--json").await(PATIENCE);
    assertEquals(0, get.exit, get.toString());
    JsonNode job = JSON.readTree(String.join("\n", get.stdout));
    assertEquals(jobId, job.get("id").asText());
    assertEquals("classify", job.get("use_case").asText());

    Run list = keld("jobs", "list", "--use-case", "classify", "--json").await(PATIENCE);
    assertEquals(0, list.exit, list.toString());
    Thread.sleep(300);
    Run watch = keld("jobs", "watch", jobId).await(PATIENCE);
    assertEquals(0, watch.exit, "a completed job watches to its end at once: " + watch);
    assertTrue(String.join("\n", watch.stdout).contains(jobId + "  completed"), watch.toString());

    Run quote = keld("jobs", "quote", input.toString(), "--use-case", "classify", "--deadline", "1h", "--ceiling", "2", "--list-price", "1.5")
        .await(PATIENCE);
    assertEquals(0, quote.exit, quote.toString());
    assertTrue(String.join("\n", quote.stdout).contains("at list price $1.5/Mtok"), quote.toString());

    // Cancel: a job with nothing sent yet.
    String idle = client().submit(new JobSubmission("classify", null, null, "PT30M", new BigDecimal("2"), 1000L, null, null, null, null, null, null),
        null).job().id();
    Run cancel = keld("jobs", "cancel", idle).await(PATIENCE);
    assertEquals(0, cancel.exit, cancel.toString());
    assertTrue(String.join("\n", cancel.stdout).contains("cancelled"), cancel.toString());
    Run cancelAgain = keld("jobs", "cancel", idle).await(PATIENCE);
    assertEquals(1, cancelAgain.exit, "an ended job cannot be cancelled: " + cancelAgain);
    assertTrue(String.join("\n", cancelAgain.stderr).contains("409"), cancelAgain.toString());
  }

  @Test
  void theDataPlaneRefusesALineWhoseUrlIsNotTheJobsOperationAndAnswersInOpenAiFormat() throws Exception {
    IxpClient ixp = client();
    String id = ixp.submit(new JobSubmission("chat", null, null, "PT5M", new BigDecimal("2"), 5000L, null, null, null, null, null, null), null)
        .job().id();
    List<String> results = new CopyOnWriteArrayList<>();
    ixp.upload(id, IxpClient.ResultFormat.OPENAI, sink -> {
      sink.send(openAiLine("chat-1", "/v1/chat/completions").getBytes(StandardCharsets.UTF_8));
      sink.send(openAiLine("vec-1", "/v1/embeddings").getBytes(StandardCharsets.UTF_8));
    }, results::add);
    assertEquals(2, results.size(), results.toString());
    Map<String, JsonNode> byId = new HashMap<>();
    for (String r : results) {
      JsonNode n = JSON.readTree(r);
      assertOpenAiBatchOutputLine(n);
      byId.put(n.get("custom_id").asText(), n);
    }
    assertTrue(byId.get("chat-1").get("error").isNull());
    assertEquals("url_mismatch", byId.get("vec-1").get("error").get("code").asText());
    assertEquals(2, byId.get("vec-1").get("error").get("line").asInt());
  }

  // -- helpers ----------------------------------------------------------------------------------

  /** OpenAI's Batch output line schema (openai-python's BatchRequestOutput / BatchError), checked by hand. */
  private static void assertOpenAiBatchOutputLine(JsonNode line) {
    assertEquals(Set.of("id", "custom_id", "response", "error"), fieldNames(line), "exactly OpenAI's members: " + line);
    assertTrue(line.get("id").isTextual() && line.get("id").asText().startsWith("batch_req_"), line.toString());
    assertTrue(line.get("custom_id").isTextual() || line.get("custom_id").isNull(), line.toString());
    JsonNode response = line.get("response");
    JsonNode error = line.get("error");
    assertTrue(response.isNull() != error.isNull(), "exactly one of response and error: " + line);
    if (!response.isNull()) {
      assertEquals(Set.of("status_code", "request_id", "body"), fieldNames(response), line.toString());
      assertTrue(response.get("status_code").isInt() && response.get("request_id").isTextual() && response.get("body").isObject(), line.toString());
    } else {
      assertTrue(error.get("code").isTextual() && error.get("message").isTextual(), line.toString());
      assertTrue(error.get("line") == null || error.get("line").isNull() || error.get("line").isIntegralNumber(), line.toString());
    }
  }

  private static Set<String> fieldNames(JsonNode n) {
    Set<String> names = new HashSet<>();
    n.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static String openAiLine(String customId, String url) {
    String body = url.endsWith("embeddings") ? "{\"model\":\"any\",\"input\":\"embed " + customId + "\"}"
        : "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarize item " + customId + " in a line.\"}],\"max_tokens\":16}";
    return "{\"custom_id\":\"" + customId + "\",\"method\":\"POST\",\"url\":\"" + url + "\",\"body\":" + body + "}";
  }

  private static Path openAiBatch(Path path, String prefix, int n) throws IOException {
    try (Writer w = Files.newBufferedWriter(path)) {
      for (int i = 0; i < n; i++) w.write(openAiLine(prefix + "-" + i, "/v1/chat/completions") + "\n");
    }
    return path;
  }

  private static Set<String> expectedIds(String prefix, int n) {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < n; i++) ids.add(prefix + "-" + i);
    return ids;
  }

  private static List<JsonNode> readJsonLines(Path path) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(path)) if (!line.isBlank()) out.add(JSON.readTree(line));
    return out;
  }

  private static long lineCount(Path path) throws IOException {
    if (!Files.exists(path)) return 0;
    try (var lines = Files.lines(path)) {
      return lines.count();
    }
  }

  private static String jobIdOf(Run run) {
    return run.stdout.stream().filter(l -> l.contains(" job job_")).map(l -> l.replaceAll(".* job (job_[0-9a-z]+).*", "$1")).findFirst()
        .orElseThrow(() -> new AssertionError("no job id printed: " + run));
  }

  private static IxpClient client() {
    return IxpClient.create(URI.create(world.baseUrl), world.tenancy.apiKey());
  }

  /** The CLI in a JVM of its own, on the test's class path, with KELD_URL and KELD_API_KEY set. */
  private static Run keld(String... args) throws IOException {
    return new Run(withEnv(new ProcessBuilder(javaCommand(args))).start());
  }

  private static List<String> javaCommand(String... args) {
    // The JVM options ./keld gives its client commands.
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xms32m", "-Xmx512m",
        "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), KeldCommand.class.getName()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static ProcessBuilder withEnv(ProcessBuilder pb) {
    pb.environment().put("KELD_URL", world.baseUrl);
    pb.environment().put("KELD_API_KEY", world.tenancy.apiKey());
    return pb;
  }

  /** A running CLI and what it printed, each stream read on a thread of its own. */
  private static final class Run {
    final Process process;
    final List<String> stdout = new CopyOnWriteArrayList<>();
    final List<String> stderr = new CopyOnWriteArrayList<>();
    int exit = -1;

    Run(Process process) {
      this.process = process;
      drain(process.getInputStream(), stdout);
      drain(process.getErrorStream(), stderr);
    }

    Run await(Duration within) throws InterruptedException {
      if (!process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new AssertionError("keld did not finish in " + within + ": " + this);
      }
      exit = process.exitValue();
      Thread.sleep(100); // the last lines through the drains
      return this;
    }

    /** Splits on \n only: a bar redraws with \r, kept as it came. */
    private static void drain(InputStream in, List<String> into) {
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          char[] buf = new char[4096];
          StringBuilder line = new StringBuilder();
          for (int n; (n = r.read(buf)) != -1; ) {
            for (int i = 0; i < n; i++) {
              if (buf[i] == '\n') {
                into.add(line.toString());
                line.setLength(0);
              } else {
                line.append(buf[i]);
              }
            }
          }
          if (line.length() > 0) into.add(line.toString());
        } catch (IOException ignored) {
          // the process ended
        }
      });
      t.setDaemon(true);
      t.start();
    }

    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout\n" + String.join("\n", stdout) + "\n--- stderr\n" + String.join("\n", stderr).replace("\r", "\\r\n");
    }
  }
}
