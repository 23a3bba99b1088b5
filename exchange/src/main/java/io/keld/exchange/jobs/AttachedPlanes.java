package io.keld.exchange.jobs;

import io.keld.exchange.jobs.DeadlineJob.RouteUpdate;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The data planes attached to one job, told where its items go whenever the leg or the phase
 * changes. In memory only: after a restart the data planes re-attach through their reports.
 */
final class AttachedPlanes {

  private final String jobId;
  private final Map<String, ActorRef<RouteUpdate>> attached = new HashMap<>();
  private int pushedLegNo = -1;
  private JobPhase pushedPhase;

  AttachedPlanes(String jobId) {
    this.jobId = jobId;
  }

  /** Keeps a data plane to tell of later changes, unless the job has ended. */
  void attach(JobState s, String reporter, ActorRef<RouteUpdate> replyTo) {
    if (!s.phase().terminal()) attached.put(reporter, replyTo);
  }

  RouteUpdate route(JobState s, long ackedSeq) {
    return new RouteUpdate(jobId, ackedSeq, s.phase(), s.currentLeg(), s.deadlineMillis());
  }

  /** The answer for a job that does not exist: stop. */
  RouteUpdate noSuchJob(long ackedSeq) {
    return new RouteUpdate(jobId, ackedSeq, JobPhase.CANCELLED, null, 0);
  }

  /** Tells attached data planes when the leg or the phase changed. */
  void push(JobState s) {
    Leg leg = s.currentLeg();
    int legNo = leg == null ? 0 : leg.no();
    if (legNo == pushedLegNo && s.phase() == pushedPhase) return;
    pushedLegNo = legNo;
    pushedPhase = s.phase();
    RouteUpdate update = route(s, 0);
    attached.values().forEach(a -> a.tell(update));
    if (s.phase().terminal()) attached.clear();
  }

  /** After recovery nothing is attached yet: a data plane is told the route when it attaches or reports. */
  void recovered(JobState s) {
    pushedLegNo = s.currentLeg() == null ? 0 : s.currentLeg().no();
    pushedPhase = s.phase();
  }
}
