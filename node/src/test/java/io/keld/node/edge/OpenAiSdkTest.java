package io.keld.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.node.demo.DemoTenancy;
import io.keld.node.testing.DemoWorld;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible edge, driven by the official OpenAI Node.js SDK (npm package {@code openai}):
 * a real node with the demo fleets and the demo enterprise, and {@code node --test} in
 * {@code clients/openai-sdk-test} calling it as any application would (chat, streaming, embeddings,
 * models, a budget refusal and the error classes; see {@code sdk.test.mjs}).
 *
 * <p>Needs {@code node} (18 or later) and {@code npm} on the PATH: without them the test skips with a
 * note, except under {@code CI=true}, where it fails. It runs on PostgreSQL when one answers (see
 * {@link io.keld.testkit.TestDatabase}), else, outside CI, on H2.
 */
class OpenAiSdkTest {

  private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration RUN_TIMEOUT = Duration.ofMinutes(5);
  private static final int OUTPUT_TAIL_LINES = 200;
  private static final boolean WINDOWS = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
  private static final String NODE = WINDOWS ? "node.exe" : "node";
  private static final String NPM = WINDOWS ? "npm.cmd" : "npm";

  private static Path sdkTestDir;
  private static DemoWorld world;

  @BeforeAll
  static void startNodeWithTheDemo() throws Exception {
    requireNodeAndNpm();
    sdkTestDir = locateSdkTests();
    world = DemoWorld.start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (world != null) world.close();
  }

  @Test
  void theOfficialOpenAiNodeSdkWorksAgainstTheEdge() throws Exception {
    boolean hasLockfile = Files.exists(sdkTestDir.resolve("package-lock.json"));
    Result install = run(hasLockfile ? List.of(NPM, "ci", "--no-audit", "--no-fund") : List.of(NPM, "install", "--no-audit", "--no-fund"),
        Map.of(), INSTALL_TIMEOUT);
    assertEquals(0, install.exitCode(), "npm " + (hasLockfile ? "ci" : "install") + " in " + sdkTestDir + " failed:\n" + install.tail());
    assertTrue(Files.isDirectory(sdkTestDir.resolve("node_modules/openai")), "npm installed the openai package:\n" + install.tail());

    String base = world.baseUrl;
    DemoTenancy.Created tenancy = world.tenancy;
    Map<String, String> env = Map.of(
        "KELD_BASE_URL", base + "/v1",
        "KELD_ATLAS_URL", base + "/atlas/v1",
        "KELD_API_KEY", tenancy.apiKey(),
        "KELD_ADMIN_KEY", tenancy.adminKey(),
        "KELD_TEAM_ID", tenancy.teamId(),
        "KELD_PROJECT_ID", tenancy.projectId());
    Result tests = run(List.of(NODE, "--test"), env, RUN_TIMEOUT);
    assertEquals(0, tests.exitCode(), "the OpenAI SDK tests (node --test in " + sdkTestDir + ") failed:\n" + tests.tail());
  }

  // -- the tools and the folder -----------------------------------------------------------------

  /** Skips outside CI, fails under {@code CI=true}, when Node.js 18+ or npm is not on the PATH. */
  private static void requireNodeAndNpm() {
    String nodeVersion = versionOf(NODE);
    String npmVersion = versionOf(NPM);
    String problem = null;
    if (nodeVersion == null) {
      problem = "'" + NODE + "' is not on the PATH";
    } else if (majorVersion(nodeVersion) < 18) {
      problem = "Node.js " + nodeVersion + " is too old: the OpenAI SDK and `node --test` need 18 or later";
    } else if (npmVersion == null) {
      problem = "'" + NPM + "' is not on the PATH";
    }
    if (problem == null) {
      System.out.println("OpenAI SDK test: node " + nodeVersion + ", npm " + npmVersion);
      return;
    }
    String message = "The OpenAI SDK compatibility test needs Node.js and npm: " + problem;
    if ("true".equalsIgnoreCase(System.getenv("CI"))) Assertions.fail(message + " (CI=true: this test must run; install nodejs and npm)");
    Assumptions.abort(message + " (skipped outside CI; install Node.js 18+ with npm to run it)");
  }

  /** The last line {@code <tool> --version} prints (npm may warn first), or null when the tool cannot be run. */
  private static String versionOf(String tool) {
    try {
      Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      if (p.exitValue() != 0 || out.isEmpty()) return null;
      return out.lines().reduce((first, next) -> next).orElse(out).trim();
    } catch (IOException notThere) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private static int majorVersion(String version) {
    String digits = version.replaceFirst("^v", "").replaceFirst("[^0-9].*$", "");
    return digits.isEmpty() ? 0 : Integer.parseInt(digits);
  }

  /** {@code clients/openai-sdk-test}, beside the node module ({@code ../clients/openai-sdk-test} from it). */
  private static Path locateSdkTests() {
    Path moduleDir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    Path dir = moduleDir.resolve("../clients/openai-sdk-test").toAbsolutePath().normalize();
    assertTrue(Files.isRegularFile(dir.resolve("package.json")) && Files.isRegularFile(dir.resolve("sdk.test.mjs")),
        "the OpenAI SDK tests are at " + dir + " (package.json and sdk.test.mjs)");
    return dir;
  }

  // -- subprocesses -----------------------------------------------------------------------------

  /** What a subprocess printed (stdout and stderr together) and how it ended. */
  private record Result(int exitCode, List<String> output) {
    String tail() {
      List<String> lines = List.copyOf(output);
      int from = Math.max(0, lines.size() - OUTPUT_TAIL_LINES);
      return (from > 0 ? "[… " + from + " earlier lines in the test output …]\n" : "") + String.join("\n", lines.subList(from, lines.size()));
    }
  }

  /**
   * Runs a command in the SDK test folder with extra environment variables. Its output is printed
   * line by line (prefixed, so it cannot be mistaken for this JVM's own) and kept for failure messages.
   */
  private static Result run(List<String> command, Map<String, String> env, Duration timeout) throws Exception {
    String label = "[" + String.join(" ", command) + "] ";
    System.out.println("OpenAI SDK test: running " + String.join(" ", command) + " in " + sdkTestDir);
    ProcessBuilder pb = new ProcessBuilder(command).directory(sdkTestDir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    pb.environment().put("NO_COLOR", "1");
    Process p = pb.start();
    p.getOutputStream().close(); // no standard input: nothing may wait on a prompt
    List<String> output = new CopyOnWriteArrayList<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          output.add(line);
          System.out.println(label + line);
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "openai-sdk-test-output");
    reader.setDaemon(true);
    reader.start();
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      reader.join(Duration.ofSeconds(5).toMillis());
      List<String> seen = new ArrayList<>(output);
      seen.add("[timed out after " + timeout + "]");
      return new Result(-1, seen);
    }
    reader.join(Duration.ofSeconds(10).toMillis());
    return new Result(p.exitValue(), output);
  }
}
