package io.keld.bench;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This JVM's CPU time and its threads' context switches at one moment (Linux). Between two readings
 * around a phase, divided by the phase's requests: the CPU a request cost the node and how many times
 * a thread gave up the CPU for it (a hand-off to another thread is one such switch). Unlike latency,
 * neither figure moves much when other processes load the machine, so runs on a busy machine compare.
 */
record ProcessCounters(long cpuNanos, long voluntarySwitches, long involuntarySwitches) {

  static ProcessCounters now() {
    long cpu = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    long voluntary = 0;
    long involuntary = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
      for (Path task : tasks) {
        try {
          for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:")) voluntary += Long.parseLong(line.substring(24).trim());
            else if (line.startsWith("nonvoluntary_ctxt_switches:")) involuntary += Long.parseLong(line.substring(27).trim());
          }
        } catch (IOException threadEnded) {
          // a thread that ended meanwhile
        }
      }
    } catch (IOException notLinux) {
      return new ProcessCounters(cpu, -1, -1);
    }
    return new ProcessCounters(cpu, voluntary, involuntary);
  }

  /** Per request from {@code before} to this reading: CPU microseconds, voluntary switches. */
  double cpuMicrosPerRequest(ProcessCounters before, long requests) {
    return requests == 0 ? 0 : (cpuNanos - before.cpuNanos) / 1_000.0 / requests;
  }

  double voluntarySwitchesPerRequest(ProcessCounters before, long requests) {
    return requests == 0 || voluntarySwitches < 0 ? 0 : (double) (voluntarySwitches - before.voluntarySwitches) / requests;
  }
}
