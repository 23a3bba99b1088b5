package io.keld.node.runtime;

import java.util.concurrent.ForkJoinPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the JDK's common pool at least two threads. Pekko's ask answers with Scala's
 * {@code CompletionStage}, which runs every dependent stage "async" on {@code CompletableFuture}'s
 * default executor. That default is the common pool only when the pool has more than one thread;
 * otherwise it is a new thread per callback. The common pool has one thread fewer than the machine
 * has cores, so on 2 cores every callback of every ask started a thread (measured on the trade
 * feed: the book took a third of the amends it takes with a pool; BENCHMARKS.md).
 *
 * <p>The pool's size is read once, when {@link ForkJoinPool} is first used, so this must run before
 * that: {@code keld} and {@code bench/run} pass the property on the command line, and
 * {@link #ensureParallel()} sets it early in a JVM that was started without it.
 */
public final class CommonPool {

  public static final String PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

  private CommonPool() {}

  /** Sets the property if nobody did and the pool would be smaller than two; warns if it is too late. */
  public static void ensureParallel() {
    if (System.getProperty(PARALLELISM) == null && Runtime.getRuntime().availableProcessors() <= 2) {
      System.setProperty(PARALLELISM, "2");
    }
    if (ForkJoinPool.getCommonPoolParallelism() < 2) {
      // The logger only now: starting logging may itself start the common pool.
      Logger log = LoggerFactory.getLogger(CommonPool.class);
      log.warn("the JDK common pool has {} thread(s), so every ask callback starts a thread of its own; "
          + "start the JVM with -D{}=2", ForkJoinPool.getCommonPoolParallelism(), PARALLELISM);
    }
  }
}
