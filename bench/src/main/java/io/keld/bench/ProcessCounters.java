package io.keld.bench;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * This JVM's CPU time and its threads' context switches at one moment (Linux). Between two readings
 * around a phase, divided by the phase's requests: the CPU a request cost the node and how many times
 * a thread gave up the CPU for it (a hand-off to another thread is one such switch). Unlike latency,
 * neither figure moves much when other processes load the machine, so runs on a busy machine compare.
 * The JIT compiler's threads' CPU is counted apart: in a short run it is a large and varying share.
 */
record ProcessCounters(long cpuNanos, long jitNanos, Map<String, Long> voluntaryByThread) {

  static ProcessCounters now() {
    long cpu = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    Map<String, Long> voluntary = new HashMap<>();
    long jit = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
      for (Path task : tasks) {
        try {
          // HotSpot names its compiler threads "C1 CompilerThread0", "C2 CompilerThread1" (15 characters kept).
          if (Files.readString(task.resolve("comm")).matches("C[12] CompilerThre.*\\s*")) {
            jit += Long.parseLong(Files.readString(task.resolve("schedstat")).split(" ")[0]);
          }
          for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:")) voluntary.put(task.getFileName().toString(), Long.parseLong(line.substring(24).trim()));
          }
        } catch (IOException threadEnded) {
          // a thread that ended meanwhile
        }
      }
    } catch (IOException notLinux) {
      return new ProcessCounters(cpu, 0, null);
    }
    return new ProcessCounters(cpu, jit, voluntary);
  }

  /** Per request from {@code before} to this reading: CPU microseconds, voluntary switches. */
  double cpuMicrosPerRequest(ProcessCounters before, long requests) {
    return requests == 0 ? 0 : (cpuNanos - before.cpuNanos) / 1_000.0 / requests;
  }

  /** Per request, CPU microseconds less the JIT compiler threads' (their time on the CPU, from schedstat). */
  double cpuMicrosPerRequestWithoutJit(ProcessCounters before, long requests) {
    return requests == 0 ? 0 : ((cpuNanos - before.cpuNanos) - (jitNanos - before.jitNanos)) / 1_000.0 / requests;
  }

  /**
   * Per request: the switches of the threads alive now, less what each had at {@code before} (a pool's
   * thread that ended in between takes its switches with it: the figure is a slight undercount then).
   */
  double voluntarySwitchesPerRequest(ProcessCounters before, long requests) {
    if (requests == 0 || voluntaryByThread == null || before.voluntaryByThread == null) return 0;
    long switches = 0;
    for (Map.Entry<String, Long> e : voluntaryByThread.entrySet()) switches += e.getValue() - before.voluntaryByThread.getOrDefault(e.getKey(), 0L);
    return (double) switches / requests;
  }
}
