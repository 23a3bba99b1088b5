package io.keld.exchange.jobs;

import io.keld.exchange.jobs.DeadlineJob.Accepted;
import io.keld.exchange.jobs.DeadlineJob.Refused;
import io.keld.exchange.jobs.DeadlineJob.SubmitReply;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Who is told a job's view after every change: submitters until admission is decided, followers
 * until the job is settled, and the node's {@link JobObserver}. Submitters and followers are kept in
 * memory only, for this incarnation: after a restart submitters retry with their idempotency key.
 */
final class JobWatchers {

  private final JobObserver observer;
  private final List<ActorRef<SubmitReply>> pendingSubmits = new ArrayList<>();
  private final Set<ActorRef<JobView>> followers = new HashSet<>();

  JobWatchers(JobObserver observer) {
    this.observer = observer;
  }

  /** Answers a submitter once the job is past admission. */
  void awaitAdmission(ActorRef<SubmitReply> replyTo) {
    pendingSubmits.add(replyTo);
  }

  static SubmitReply submitReply(JobState s, boolean created) {
    if (s.refusal() != null) return new Refused(s.refusal(), JobView.of(s));
    return new Accepted(JobView.of(s), created);
  }

  void follow(ActorRef<JobView> subscriber) {
    followers.add(subscriber);
  }

  void unfollow(ActorRef<JobView> subscriber) {
    followers.remove(subscriber);
  }

  /** After a write: the waiting submitters get their answer, the observer and the followers the new view. */
  void changed(JobState s, long version) {
    if (s.phase() != JobPhase.ADMITTED && !pendingSubmits.isEmpty()) {
      SubmitReply reply = submitReply(s, true);
      pendingSubmits.forEach(r -> r.tell(reply));
      pendingSubmits.clear();
    }
    JobView view = JobView.of(s);
    observer.changed(view, version);
    followers.forEach(f -> f.tell(view));
    if (s.phase().terminal() && s.settled()) followers.clear();
  }
}
