package io.keld.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * This machine's kernel writeback threshold ({@code vm.dirty_background_bytes}, or the ratio of
 * available memory when that is 0), which the persisted benchmarks state beside their latency:
 * PostgreSQL 15 extends a growing table by writing zero-filled pages that are not flushed early, and
 * under the kernel's default ratio a checkpoint's sync found hundreds of megabytes of them to write at
 * once, while every commit waited (OPERATIONS.md, "PostgreSQL settings"; BENCHMARKS.md, book-persistent).
 * It is this machine's setting, which is the database server's when, as by default, that runs here.
 * The benchmarks read it before their runs and again after; they never change it.
 */
record KernelWriteback(long backgroundBytes, int backgroundRatio) {

  /** The current setting, or null where {@code /proc/sys/vm} cannot be read (not Linux). */
  static KernelWriteback now() {
    try {
      return new KernelWriteback(Long.parseLong(read("dirty_background_bytes")), Integer.parseInt(read("dirty_background_ratio")));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** One line of a {@code /proc/sys/vm} file: read by line, since a whole-file read of one returned only its first byte here. */
  private static String read(String name) throws IOException {
    try (BufferedReader r = Files.newBufferedReader(Path.of("/proc/sys/vm", name))) {
      String line = r.readLine();
      if (line == null) throw new IOException("/proc/sys/vm/" + name + " is empty");
      return line.trim();
    }
  }

  /** What a report says of it, e.g. {@code vm.dirty_background_bytes = 16 MiB}; the exact bytes when not a whole MiB. */
  String describe() {
    if (backgroundBytes > 0) {
      return backgroundBytes % (1 << 20) == 0
          ? String.format(Locale.ROOT, "`vm.dirty_background_bytes` = %,d MiB", backgroundBytes >> 20)
          : String.format(Locale.ROOT, "`vm.dirty_background_bytes` = %,d bytes", backgroundBytes);
    }
    return String.format(Locale.ROOT, "`vm.dirty_background_ratio` = %d%% of available memory%s", backgroundRatio,
        backgroundRatio == 10 ? " (the kernel's default; `vm.dirty_background_bytes` unset)" : " (`vm.dirty_background_bytes` unset)");
  }

  /** Both readings for a report: one setting, or what it was before and after when it changed meanwhile. */
  static String describe(KernelWriteback before, KernelWriteback after) {
    if (before == null || after == null) return "not readable here";
    return before.equals(after) ? before.describe() : "changed while it ran: " + before.describe() + " before, " + after.describe() + " after";
  }

  /** Adds the setting read before the runs to a report's JSON: the byte threshold (0 when the ratio applies) and the ratio. */
  static void addFigures(BenchReport report, KernelWriteback before) {
    if (before == null) return;
    report.figure("kernel_dirty_background_bytes", before.backgroundBytes()).figure("kernel_dirty_background_ratio", before.backgroundRatio());
  }
}
