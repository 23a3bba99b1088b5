package io.keld.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This machine's kernel writeback threshold ({@code vm.dirty_background_bytes}, or the ratio of memory
 * when that is 0), which the persisted benchmarks state beside their latency: PostgreSQL 15 extends a
 * growing table by writing zero-filled pages that nothing flushes until a checkpoint syncs the file,
 * and under the kernel's default ratio that is hundreds of megabytes at once, during which every commit
 * waits (OPERATIONS.md, "PostgreSQL settings"; BENCHMARKS.md, book-persistent). The benchmarks read
 * the setting; they never change it.
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

  /** One line of a {@code /proc/sys/vm} file; read by line, since a whole-file read of one returned only its first byte here. */
  private static String read(String name) throws IOException {
    try (BufferedReader r = Files.newBufferedReader(Path.of("/proc/sys/vm", name))) {
      String line = r.readLine();
      if (line == null) throw new IOException("/proc/sys/vm/" + name + " is empty");
      return line.trim();
    }
  }

  /** What the table says of it, e.g. {@code vm.dirty_background_bytes = 16 MiB}. */
  String describe() {
    return backgroundBytes > 0
        ? String.format("`vm.dirty_background_bytes` = %,d MiB", backgroundBytes >> 20)
        : String.format("`vm.dirty_background_ratio` = %d%% of memory (the kernel's default; `vm.dirty_background_bytes` unset)", backgroundRatio);
  }

  /** The JSON figure: the byte threshold, or 0 when the kernel goes by the ratio. */
  long figure() {
    return backgroundBytes;
  }

  /** "the setting, or that it could not be read", for a line of a report. */
  static String describeNow() {
    KernelWriteback w = now();
    return w == null ? "not readable here" : w.describe();
  }
}
