package io.keld.bench;

import exchange.core2.core.common.cmd.CommandResultCode;
import io.keld.marketplace.book.BookResult;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * JMH, one thread: exchange-core's order book and Keld's book core on the same
 * {@link BookPeersStream}, and Keld's own mixed workload ({@link BookCoreWorkload}), in one run.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BookCorePeersBenchmark {

  /** Operations of one cycle's steady part; the stream is generated once per trial. */
  static final int MAIN_OPS = 1_000_000;
  static final long SEED = 7;

  @State(Scope.Thread)
  public static class ExchangeCoreState {
    BookPeers.ExchangeCore engine;

    @Setup(Level.Trial)
    public void setUp() {
      engine = new BookPeers.ExchangeCore(BookPeersStream.generate(SEED, MAIN_OPS));
    }
  }

  @State(Scope.Thread)
  public static class KeldState {
    BookPeers.Keld engine;

    @Setup(Level.Trial)
    public void setUp() {
      engine = new BookPeers.Keld(BookPeersStream.generate(SEED, MAIN_OPS));
    }
  }

  @State(Scope.Thread)
  public static class MixedState {
    BookCoreWorkload workload;

    @Setup(Level.Trial)
    public void setUp() {
      workload = new BookCoreWorkload(42);
    }
  }

  @Benchmark
  public CommandResultCode sharedStreamExchangeCore(ExchangeCoreState s) {
    return s.engine.step(false);
  }

  @Benchmark
  public BookResult sharedStreamKeld(KeldState s) {
    return s.engine.step();
  }

  @Benchmark
  public BookResult keldMixedWorkload(MixedState s) {
    return s.workload.step();
  }
}
