package io.keld.bench;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import io.keld.node.runtime.CommonPool;

/** {@code bench/run NAME [--quick]}: runs one benchmark and records it in BENCHMARKS.md. */
public final class BenchMain {

  private static final List<String> NAMES = List.of("book-core", "book-core-peers", "book-core-compare", "book-persistent", "flow-pacing", "trade-feed", "edge-overhead", "edge-peers", "atlas-ingest", "verify-replay", "cli-batch", "market-day");

  public static void main(String[] args) throws Exception {
    CommonPool.ensureParallel(); // before anything uses the JDK's common pool
    List<String> a = Arrays.asList(args);
    String name = a.stream().filter(s -> !s.startsWith("--")).findFirst().orElse(null);
    boolean quick = a.contains("--quick");
    // --runs=N: how many measurements a benchmark that reports medians takes (book-persistent: runs; trade-feed:
    // phases at its target rate; book-core-compare: JVMs, 6 by default and 2 in a quick run), 3 by default, 1 in a quick run.
    int runs = a.stream().filter(s -> s.startsWith("--runs=")).map(s -> Integer.parseInt(s.substring("--runs=".length()))).findFirst()
        // book-core-compare: JVMs, an even number (they alternate which core is made first).
        .orElse("book-core-compare".equals(a.stream().filter(s -> !s.startsWith("--")).findFirst().orElse(null)) ? (quick ? 2 : 6)
            : quick ? 1 : 3);
    if (name == null || !NAMES.contains(name)) {
      System.err.println("usage: bench/run NAME [--quick] [--runs=N] [--baseline=REV]   where NAME is one of " + NAMES);
      System.exit(2);
    }
    String md = System.getProperty("keld.benchmarks.md");
    BenchReport report = switch (name) {
      case "book-core" -> BookCoreBench.run(quick);
      case "book-core-peers" -> BookCorePeersBench.run(quick);
      case "book-core-compare" -> BookCoreCompare.run(quick, runs);
      case "book-persistent" -> BookPersistentBench.run(quick, runs);
      case "flow-pacing" -> FlowPacingBench.run(quick);
      case "trade-feed" -> TradeFeedBench.run(quick, runs);
      case "edge-overhead" -> EdgeOverheadBench.run(quick);
      case "edge-peers" -> EdgePeersBench.run(quick);
      case "atlas-ingest" -> AtlasIngestBench.run(quick);
      case "verify-replay" -> VerifyReplayBench.run(quick);
      case "cli-batch" -> CliBatchBench.run(quick);
      case "market-day" -> MarketDayBench.run(quick);
      default -> throw new IllegalStateException(name);
    };
    report.publish(md == null ? null : Path.of(md));
    System.exit(0);
  }

  private BenchMain() {}
}
