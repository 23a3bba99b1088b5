package io.keld.exchange.jobs;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.entity.BookListener;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * Tells jobs what the books decided about their bids while they were not asking: a resting bid
 * filled by a new ask, or a bid that expired at its escalation point. A job's bids are named
 * {@code <job id>.b<n>...}, so the job is found from the bid alone.
 */
public final class JobBookListener implements BookListener {

  private final ClusterSharding sharding;

  public JobBookListener(ActorSystem<?> system) {
    this.sharding = ClusterSharding.get(system);
  }

  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    onPersisted(useCase, 0, events);
  }

  /** With each fill goes its seq in the book's log, so the job's view can link its receipt. */
  @Override
  public void onPersisted(String useCase, long firstSeqNr, List<BookEvent> events) {
    for (int i = 0; i < events.size(); i++) {
      BookEvent e = events.get(i);
      if (e instanceof BookEvent.Filled f) {
        String job = jobOf(f.fill().bidId());
        long seq = firstSeqNr > 0 ? firstSeqNr + i : 0;
        if (job != null) sharding.entityRefFor(DeadlineJob.ENTITY_KEY, job).tell(new DeadlineJob.BookFilled(useCase, f.fill(), seq));
      } else if (e instanceof BookEvent.BidExpired x) {
        String job = jobOf(x.bidId());
        if (job != null) sharding.entityRefFor(DeadlineJob.ENTITY_KEY, job).tell(new DeadlineJob.BookBidExpired(x.bidId()));
      }
    }
  }

  /** The job a bid belongs to, or null for a bid that is not a job's. */
  static String jobOf(String bidId) {
    int dot = bidId.indexOf(".b");
    if (!bidId.startsWith("job_") || dot < 0) return null;
    String job = bidId.substring(0, dot);
    return Jobs.plausibleId(job) ? job : null;
  }
}
