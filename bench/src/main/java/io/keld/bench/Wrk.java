package io.keld.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs wrk (a separate process) against a target with the benchmark's chat request. Its Lua
 * {@code done} hook writes the summary and the run's latency distribution as {@value #QUANTILES}
 * evenly spaced quantiles (wrk's Lua API gives percentiles, not the raw histogram), so rounds merge
 * weighted by their requests and p99.9 is read from the merged distribution, not averaged across runs.
 */
final class Wrk {

  /** What one wrk run saw: requests completed, its length, non-2xx answers, socket errors, latencies. */
  record Run(long requests, double seconds, long non2xx, long socketErrors, Histogram latency) {}

  /** Quantiles a run writes: each stands for 1/QUANTILES of its requests (0.05% apart). */
  static final int QUANTILES = 2_000;

  private final Path work;
  private int runs;

  Wrk(Path work) {
    this.work = work;
  }

  Run run(EdgePeersBench.Target target, int threads, int connections, int seconds) throws IOException, InterruptedException {
    int n = ++runs;
    Path script = work.resolve("wrk-" + target.name() + ".lua");
    Path out = work.resolve("wrk-" + n + ".out");
    Files.writeString(script, script(target.headers(), EdgePeersBench.REQUEST, out));
    Path log = work.resolve("wrk-" + n + ".log");
    Process p = new ProcessBuilder("wrk", "-t" + threads, "-c" + connections, "-d" + seconds + "s", "--timeout", "5s",
        "-s", script.toString(), target.url())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("wrk did not finish against " + target.name());
    }
    if (p.exitValue() != 0 || !Files.exists(out)) {
      throw new IllegalStateException("wrk failed against " + target.name() + " (exit " + p.exitValue() + "): " + Files.readString(log));
    }
    List<String> lines = Files.readAllLines(out);
    String[] summary = lines.get(0).trim().split("\\s+");
    long requests = Long.parseLong(summary[0]);
    Histogram h = new Histogram();
    // Each quantile weighs the run's request count, so runs merge in proportion to their requests.
    for (String line : lines.subList(1, lines.size())) h.record(Long.parseLong(line.trim()), requests);
    double micros = Double.parseDouble(summary[1]);
    long non2xx = Long.parseLong(summary[2]);
    long socket = Long.parseLong(summary[3]);
    return new Run(requests, micros / 1e6, non2xx, socket, h);
  }

  /** A wrk script: the POST with its headers, and a done hook writing "requests duration_us status_errors socket_errors", then a quantile (µs) a line. */
  private static String script(Map<String, String> headers, String body, Path out) {
    StringBuilder s = new StringBuilder();
    s.append("wrk.method = \"POST\"\n");
    s.append("wrk.body = ").append(lua(body)).append('\n');
    s.append("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    headers.forEach((k, v) -> s.append("wrk.headers[").append(lua(k)).append("] = ").append(lua(v)).append('\n'));
    s.append("done = function(summary, latency, requests)\n");
    s.append("  local f = assert(io.open(").append(lua(out.toString())).append(", \"w\"))\n");
    s.append("  local e = summary.errors\n");
    s.append("  f:write(string.format(\"%d %d %d %d\\n\", summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))\n");
    s.append("  if summary.requests > 0 then\n");
    s.append("    for k = 1, ").append(QUANTILES).append(" do\n");
    s.append("      f:write(string.format(\"%d\\n\", latency:percentile((k - 0.5) * 100 / ").append(QUANTILES).append(")))\n");
    s.append("    end\n");
    s.append("  end\n");
    s.append("  f:close()\n");
    s.append("end\n");
    return s.toString();
  }

  private static String lua(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
