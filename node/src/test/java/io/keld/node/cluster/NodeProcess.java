package io.keld.node.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One process of the packaged jar ({@code java -jar keld.jar ARGS}), the way an operator runs it:
 * its output kept in memory and copied to a log file, stopped by SIGTERM or killed by SIGKILL.
 */
final class NodeProcess {

  static final Path JAR = Path.of(System.getProperty("keld.jar", "target/keld.jar"));

  final String name;
  final Process process;
  final List<String> output = new CopyOnWriteArrayList<>();

  private NodeProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    Thread drain = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter w = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
        for (String line; (line = r.readLine()) != null; ) {
          output.add(line);
          w.println(line);
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "drain-" + name);
    drain.setDaemon(true);
    drain.start();
  }

  /** Starts {@code java -Xmx... -jar keld.jar args} with {@code env} added to this JVM's environment. */
  static NodeProcess start(String name, Path logDir, Map<String, String> env, String... args) throws IOException {
    if (!Files.exists(JAR)) throw new AssertionError("the packaged jar exists at " + JAR.toAbsolutePath());
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.util.concurrent.ForkJoinPool.common.parallelism=2",
        "-jar", JAR.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Files.createDirectories(logDir);
    return new NodeProcess(name, pb.start(), logDir.resolve(name + ".log"));
  }

  /** kill -9: no shutdown hook, no leaving, whatever it held in memory is gone. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  /** SIGTERM, as an orchestrator stops a node; true when it exits 0 within {@code patience}. */
  boolean sigterm(Duration patience) throws InterruptedException {
    process.toHandle().destroy();
    return process.waitFor(patience.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS) && process.exitValue() == 0;
  }

  boolean alive() {
    return process.isAlive();
  }

  boolean printed(String fragment) {
    return output.stream().anyMatch(l -> l.contains(fragment));
  }

  boolean awaitLine(String fragment, Duration patience) throws InterruptedException {
    Instant giveUp = Instant.now().plus(patience);
    while (Instant.now().isBefore(giveUp)) {
      if (printed(fragment)) return true;
      if (!process.isAlive()) return printed(fragment);
      Thread.sleep(100);
    }
    return false;
  }

  String tail(int lines) {
    int from = Math.max(0, output.size() - lines);
    return String.join("\n", output.subList(from, output.size()));
  }
}
