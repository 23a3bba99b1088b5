package io.keld.node.cli.jobs;

import io.keld.ixp.jobs.JobResource;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What a run shows while it runs: items done (answered or failed) of the total, failures, tokens,
 * cost so far and the time left to the deadline. On a terminal a progress bar redrawn in place; when
 * the output is a file or a pipe, one plain line every interval (and one at the end).
 */
abstract class Progress implements AutoCloseable {

  /** How a run chooses: a bar on a terminal, lines otherwise; or forced. */
  enum Mode { AUTO, BAR, LINES }

  protected final long total;
  protected volatile long done;
  protected volatile long failed;
  protected volatile JobResource job;

  Progress(long total) {
    this.total = total;
  }

  static Progress start(Mode mode, long total, long doneBefore, long failedBefore, Duration every, PrintStream out) {
    boolean terminal = System.console() != null;
    Progress p = mode == Mode.BAR || (mode == Mode.AUTO && terminal) ? new Bar(total, out) : new Lines(total, every, out);
    p.update(doneBefore, failedBefore);
    return p;
  }

  /** Items with a result in the output file, and how many of them failed. */
  void update(long done, long failed) {
    this.done = done;
    this.failed = failed;
    shown();
  }

  /** The job as last read from the node: tokens, cost, deadline. */
  void job(JobResource job) {
    this.job = job;
    shown();
  }

  protected void shown() {}

  protected String details() {
    JobResource j = job;
    if (j == null) return String.format(Locale.ROOT, "%,d failed", failed);
    long tokens = j.progress() == null ? 0 : j.progress().inputTokens() + j.progress().outputTokens();
    return String.format(Locale.ROOT, "%,d failed · %,d tok · %s · %s", failed, tokens, JobsCommand.usd(j.costMicroUsd()),
        JobResource.terminal(j.state()) ? j.state() : JobsCommand.left(j.deadline()));
  }

  @Override
  public abstract void close();

  /** A bar drawn in place on the terminal (me.tongfei:progressbar). */
  private static final class Bar extends Progress {
    private final ProgressBar bar;

    Bar(long total, PrintStream out) {
      super(total);
      this.bar = new ProgressBarBuilder().setTaskName("items").setInitialMax(total).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
          .setUpdateIntervalMillis(250).setConsumer(new ConsoleProgressBarConsumer(out)).hideEta().build();
    }

    @Override
    protected void shown() {
      bar.stepTo(done);
      bar.setExtraMessage(details());
    }

    @Override
    public void close() {
      bar.stepTo(done);
      bar.setExtraMessage(details());
      bar.close();
    }
  }

  /** A plain line every interval: for logs, pipes and CI. */
  private static final class Lines extends Progress {
    private final PrintStream out;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "keld-jobs-progress");
      t.setDaemon(true);
      return t;
    });

    Lines(long total, Duration every, PrintStream out) {
      super(total);
      this.out = out;
      timer.scheduleAtFixedRate(this::print, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void print() {
      out.printf(Locale.ROOT, "%s progress: %,d/%,d items done (%.0f%%), %s%n", JobsCommand.when(Instant.now()), done, total,
          total == 0 ? 100.0 : 100.0 * done / total, details());
      out.flush();
    }

    @Override
    public void close() {
      timer.shutdownNow();
      print();
    }
  }
}
