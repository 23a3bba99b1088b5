package io.keld.exchange.jobs;

import io.keld.exchange.jobs.DeadlineJob.Timer;
import java.time.Clock;
import java.time.Duration;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * A job's timers. They are never persisted: they follow from the persisted escalation point and
 * deadline, so re-arming them after every write or a recovery never drifts, and a timer that fires
 * in a state where its step is already done does nothing.
 */
final class JobTimers {

  private final TimerScheduler<DeadlineJob.Command> timers;
  private final Clock clock;
  private final JobSettings settings;

  JobTimers(TimerScheduler<DeadlineJob.Command> timers, Clock clock, JobSettings settings) {
    this.timers = timers;
    this.clock = clock;
    this.settings = settings;
  }

  /** The timers the state calls for: the deadline, the escalation point while unmatched, the tick while running. */
  void arm(JobState s) {
    long now = clock.millis();
    if (s.phase().terminal()) {
      timers.cancel(Timer.DEADLINE_DUE);
      timers.cancel(Timer.ESCALATION_DUE);
      timers.cancel(Timer.TICK);
      return;
    }
    timers.startSingleTimer(Timer.DEADLINE_DUE, Timer.DEADLINE_DUE, Duration.ofMillis(Math.max(0, s.deadlineMillis() - now)));
    if (s.phase() == JobPhase.ADMITTED || s.phase() == JobPhase.OPEN) {
      // A little after the book's own expiry, which usually tells the job first.
      long due = s.escalateAtMillis() + 50 - now;
      timers.startSingleTimer(Timer.ESCALATION_DUE, Timer.ESCALATION_DUE, Duration.ofMillis(Math.max(0, due)));
    } else {
      timers.cancel(Timer.ESCALATION_DUE);
    }
    if (s.phase() == JobPhase.RUNNING && !timers.isTimerActive(Timer.TICK)) {
      timers.startTimerWithFixedDelay(Timer.TICK, Timer.TICK, settings.tick());
    }
  }

  /** The escalation point came while a step was under way: look again shortly. */
  void escalationAgainSoon() {
    timers.startSingleTimer(Timer.ESCALATION_DUE, Timer.ESCALATION_DUE, Duration.ofMillis(100));
  }

  /** A step failed: run whatever the state calls for again after the retry delay. */
  void retry() {
    timers.startSingleTimer(Timer.RETRY, Timer.RETRY, settings.retryDelay());
  }

  /** A settled job recovered: it stays a little for late readers, then passivates. */
  void passivateSoon() {
    timers.startSingleTimer(Timer.PASSIVATE, Timer.PASSIVATE, Duration.ofSeconds(30));
  }
}
