package io.keld.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;

/**
 * {@code bench/run book-core-compare --baseline=REV [--runs=N]}: the book core as it stands beside the
 * core of an earlier commit, with exchange-core, in turns on one thread, on book-core-peers' stream, in
 * each of N JVMs (6 by default, an even number: the JVMs alternate which core is made first). A change of
 * a few percent to the core cannot be seen by running book-core-peers before and after: the same code
 * reads several percent apart from one JVM to the next (in ad hoc runs of 2026-12-07, exchange-core read
 * from about 9.3 to 12.5M ops/s JVM by JVM). Here both cores run in one JVM, slice by slice, and each
 * round's ratio of the two is the figure; one JVM's median ratio still moves by a few percent, so the
 * figure is taken over the JVMs.
 *
 * <p>{@code bench/run} compiles the baseline's {@code io.keld.marketplace.book} package, and the
 * working tree's, against the benchmark jar into two directories ({@code keld.compare.baseline},
 * {@code keld.compare.current}), with the same javac. Each core is loaded by a class loader of its own
 * that looks for {@code io.keld} classes first in its own place (that directory, then the jar), so each
 * core is a separate copy of Keld's classes, compiled on its own. The JDK's classes and the libraries'
 * (its maps, exchange-core) are shared, with their profiles: possibly why the core made second reads a
 * little differently (not tested), which the alternation balances. The driver ({@code BookPeers}) is the
 * current one: a baseline whose book API it cannot drive fails with a linkage error in the run.
 */
public final class BookCoreCompare {

  static volatile long sink;

  static BenchReport run(boolean quick, int runs) throws Exception {
    String baselineDir = System.getProperty("keld.compare.baseline");
    String currentDir = System.getProperty("keld.compare.current");
    String baselineRev = System.getProperty("keld.compare.baseline.rev", "baseline");
    String currentRev = System.getProperty("keld.compare.current.rev", "current");
    if (baselineDir == null || !Files.isDirectory(Path.of(baselineDir)) || currentDir == null || !Files.isDirectory(Path.of(currentDir))) {
      throw new IllegalArgumentException("book-core-compare needs --baseline=REV (bench/run compiles that commit's book core and the current one)");
    }
    // One JVM per run: the same core loaded twice in one JVM reads a few percent apart, mostly faster
    // when made second (2026-12-07, both cores compiled by the same javac: nine JVMs of ten above 1 with
    // it made second, two of three below with it made first). So the runs alternate which core is made
    // first, and the figure is the geometric mean of the two halves' medians.
    if (runs < 2 || runs % 2 != 0) throw new IllegalArgumentException("book-core-compare needs an even --runs of at least 2 (got " + runs + ")");
    List<String> childOptions = new ArrayList<>();
    // KELD_BENCH_JAVA_OPTS (a profiler agent, say) goes to the JVMs that measure, not only to this one.
    // Split on whitespace as bench/run's unquoted expansion does: no quoted arguments; give output files a %p.
    String extra = System.getenv("KELD_BENCH_JAVA_OPTS");
    if (extra != null && !extra.isBlank()) childOptions.addAll(Arrays.asList(extra.trim().split("\\s+")));
    String java = ProcessHandle.current().info().command().orElse("java");
    String jar = Path.of(BookCoreCompare.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    double[][] results = new double[runs][];
    for (int run = 0; run < runs; run++) {
      List<String> command = new ArrayList<>(List.of(java, "-Xms2g", "-Xmx2g"));
      command.addAll(childOptions);
      command.addAll(List.of("-Dkeld.compare.baseline=" + baselineDir, "-Dkeld.compare.current=" + currentDir,
          "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener", "-cp", jar, BookCoreCompare.class.getName(),
          quick ? "--quick" : "--full", run % 2 == 0 ? "--baseline-made-first" : "--current-made-first"));
      Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String last = null;
      try (var out = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
        for (String line; (line = out.readLine()) != null; ) if (line.startsWith(RESULT)) last = line;
      }
      if (p.waitFor() != 0 || last == null) {
        throw new IllegalStateException("run " + (run + 1) + " of book-core-compare failed (exit " + p.exitValue() + "; its error is above; a "
            + "NoSuchMethodError or NoSuchFieldError means the baseline's book API differs from the one the current driver calls)");
      }
      String[] fields = last.substring(RESULT.length()).trim().split(" ");
      results[run] = new double[fields.length];
      for (int f = 0; f < fields.length; f++) results[run][f] = Double.parseDouble(fields[f]);
      System.err.printf("book-core-compare: run %d of %d (%s made first), current / baseline %.3f× (%.3f–%.3f×)%n", run + 1, runs,
          run % 2 == 0 ? "baseline" : "current", results[run][1], results[run][0], results[run][2]);
    }
    double[] perRun = new double[runs];
    for (int run = 0; run < runs; run++) perRun[run] = results[run][1];
    double[] sorted = perRun.clone();
    Arrays.sort(sorted);
    double median = BookCorePeersBench.median(sorted);
    double[] baselineFirst = new double[runs / 2];
    double[] currentFirst = new double[runs / 2];
    for (int run = 0; run < runs; run++) (run % 2 == 0 ? baselineFirst : currentFirst)[run / 2] = perRun[run];
    double baselineFirstMedian = quartiles(baselineFirst)[1];
    double currentFirstMedian = quartiles(currentFirst)[1];
    // Each half leans its own way: their geometric mean balances which core was made first.
    double balanced = Math.sqrt(baselineFirstMedian * currentFirstMedian);
    long fills = (long) results[0][7];

    BenchReport report = new BenchReport("book-core-compare", quick)
        .figure("baseline", baselineRev)
        .figure("current", currentRev)
        .figure("runs", runs)
        .figure("current_over_baseline", round3(balanced))
        .figure("current_over_baseline_baseline_made_first", round3(baselineFirstMedian))
        .figure("current_over_baseline_current_made_first", round3(currentFirstMedian))
        .figure("current_over_baseline_median_run", round3(median))
        .figure("current_over_baseline_min", round3(sorted[0]))
        .figure("current_over_baseline_max", round3(sorted[runs - 1]))
        .figure("fills_per_cycle", fills);
    report.line("The book core at `" + currentRev + "` beside the core at `" + baselineRev + "` (each one's `io.keld.marketplace.book`")
        .line("package compiled by the same javac against this jar), with exchange-core, in turns on one thread, on book-core-peers'")
        .line(String.format("stream: each round %,d exchange-core operations, then %,d operations of each core (which goes first", BookCorePeersBench.XC_SLICE, BookCorePeersBench.KELD_SLICE))
        .line(String.format("alternates), %d rounds to warm up and %d measured, in each of %d JVMs. Both cores made the same number of",
            quick ? 5 : 25, quick ? 9 : 41, runs))
        .line(String.format("fills (%,d per cycle) and left their books empty after a cycle.", fills))
        .line("")
        .line("| run | made first | **current / baseline**, median round (quartiles) | baseline / exchange-core | current / exchange-core | ops/s baseline / current |")
        .line("|---|---|---|---|---|---|");
    for (int run = 0; run < runs; run++) {
      double[] r = results[run];
      report.line(String.format("| %d | %s | **%.3f×** (%.3f–%.3f×) | %.3f× | %.3f× | %,.0f / %,.0f |", run + 1, run % 2 == 0 ? "baseline" : "current",
          r[1], r[0], r[2], r[3], r[4], r[5], r[6]));
    }
    report.line("")
        .line(String.format("**Current / baseline: %.3f×**, the geometric mean of the medians of the runs with the baseline made first", balanced))
        .line(String.format("(%.3f×) and with the current core made first (%.3f×); the median run %.3f×, the runs %.3f–%.3f×. The same core",
            baselineFirstMedian, currentFirstMedian, median, sorted[0], sorted[runs - 1]))
        .line("beside itself (2026-12-07, six alternating runs) read 1.025–1.059× with the current core made second and")
        .line("0.980–1.012× with it made first, 1.020× so balanced: take a change as real only well beyond ±3%. The ratios to exchange-core are not")
        .line("book-core-peers' figures (that benchmark loads one core, and JMH runs each engine in a fork of its own).");
    return report;
  }

  private static final String RESULT = "book-core-compare result:";

  /**
   * One run, in a JVM of its own: prints the per-round current / baseline ratio's lower quartile,
   * median and upper quartile, each core's median ratio to exchange-core, each core's median ops/s,
   * and the fills per cycle.
   */
  public static void main(String[] args) throws Exception {
    boolean quick = Arrays.asList(args).contains("--quick");
    boolean currentFirst = Arrays.asList(args).contains("--current-made-first");
    URL jar = BookCoreCompare.class.getProtectionDomain().getCodeSource().getLocation();
    URL[] baselinePath = {Path.of(System.getProperty("keld.compare.baseline")).toUri().toURL(), jar};
    URL[] currentPath = {Path.of(System.getProperty("keld.compare.current")).toUri().toURL(), jar};
    IntUnaryOperator current = currentFirst ? slice(currentPath) : null;
    IntUnaryOperator baseline = slice(baselinePath);
    if (current == null) current = slice(currentPath);
    // Each slice ran one whole cycle when made, and checked its book came out empty; the fills must agree too.
    long baselineFills = ((LongSupplier) baseline).getAsLong();
    long currentFills = ((LongSupplier) current).getAsLong();
    if (baselineFills != currentFills) {
      throw new IllegalStateException("the two cores made different numbers of fills on the stream: " + baselineFills + " / "
          + currentFills + " per cycle; a speed comparison needs the same matching");
    }
    BookPeers.ExchangeCore xc = new BookPeers.ExchangeCore(BookPeersStream.generate(BookCorePeersBenchmark.SEED, BookCorePeersBenchmark.MAIN_OPS));

    int warm = quick ? 5 : 25;
    int rounds = quick ? 9 : 41;
    double[] currentOverBaseline = new double[rounds];
    double[] baselineOverXc = new double[rounds];
    double[] currentOverXc = new double[rounds];
    double[] baselineOps = new double[rounds];
    double[] currentOps = new double[rounds];
    long consumed = 0;
    for (int r = -warm; r < rounds; r++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < BookCorePeersBench.XC_SLICE; i++) consumed += xc.step(false).ordinal();
      long t1 = System.nanoTime();
      // The two cores take turns going first.
      boolean baselineFirst = (r & 1) == 0;
      IntUnaryOperator first = baselineFirst ? baseline : current;
      IntUnaryOperator second = baselineFirst ? current : baseline;
      consumed += first.applyAsInt(BookCorePeersBench.KELD_SLICE);
      long t2 = System.nanoTime();
      consumed += second.applyAsInt(BookCorePeersBench.KELD_SLICE);
      long t3 = System.nanoTime();
      if (r < 0) continue;
      double x = BookCorePeersBench.XC_SLICE * 1e9 / (t1 - t0);
      double b = BookCorePeersBench.KELD_SLICE * 1e9 / (baselineFirst ? t2 - t1 : t3 - t2);
      double c = BookCorePeersBench.KELD_SLICE * 1e9 / (baselineFirst ? t3 - t2 : t2 - t1);
      baselineOps[r] = b;
      currentOps[r] = c;
      currentOverBaseline[r] = c / b;
      baselineOverXc[r] = b / x;
      currentOverXc[r] = c / x;
    }
    sink = consumed;
    double[] change = quartiles(currentOverBaseline);
    System.out.println(RESULT + " " + change[0] + " " + change[1] + " " + change[2] + " " + quartiles(baselineOverXc)[1] + " "
        + quartiles(currentOverXc)[1] + " " + quartiles(baselineOps)[1] + " " + quartiles(currentOps)[1] + " " + currentFills);
    System.exit(0);
  }

  /** A slice runner of the shared stream for the core its class loader finds first. */
  private static IntUnaryOperator slice(URL[] path) throws Exception {
    ClassLoader loader = new CoreFirst(path, BookCoreCompare.class.getClassLoader());
    return (IntUnaryOperator) loader.loadClass(BookPeersSlice.class.getName()).getConstructor().newInstance();
  }

  /** Lower quartile, median and upper quartile. */
  private static double[] quartiles(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return new double[] {sorted[n / 4], BookCorePeersBench.median(sorted), sorted[n - 1 - n / 4]};
  }

  private static double round3(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** Loads {@code io.keld} classes from its own path first: a second copy of Keld's classes beside the application's. */
  private static final class CoreFirst extends URLClassLoader {
    CoreFirst(URL[] path, ClassLoader parent) {
      super(path, parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.startsWith("io.keld.")) return super.loadClass(name, resolve);
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) c = findClass(name);
        if (resolve) resolveClass(c);
        return c;
      }
    }
  }

  private BookCoreCompare() {}
}
