package io.keld.bench;

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

/** JMH: operations per second of one book on one thread, on the {@link BookCoreWorkload} mix. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BookCoreBenchmark {

  private BookCoreWorkload workload;

  @Setup(Level.Trial)
  public void setUp() {
    workload = new BookCoreWorkload(42);
  }

  @Benchmark
  public BookResult mixedOperations() {
    return workload.step();
  }
}
