package io.keld.exchange.jobs;

import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.OrderBook;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.pattern.Patterns;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one job asks of its use case's book: its bids (placed, withdrawn, looked up) and the fills it
 * gives back. A call whose answer the job acts on returns a stage for {@link DeadlineJob} to pipe to
 * itself; a fill given back is retried here, since nothing waits on it. Bid ids are derived from the
 * job id, so every call is safe to repeat after a crash.
 */
final class JobBookSteps {

  // The entity's logger: a job's story reads in one place.
  private static final Logger log = LoggerFactory.getLogger(DeadlineJob.class);

  private final String jobId;
  private final JobPorts.Books books;
  private final Duration retryDelay;
  private final ClassicActorSystemProvider system;

  JobBookSteps(String jobId, JobPorts.Books books, JobSettings settings, ClassicActorSystemProvider system) {
    this.jobId = jobId;
    this.books = books;
    this.retryDelay = settings.retryDelay();
    this.system = system;
  }

  /** The job's first bid, for all the job's estimated tokens. */
  String firstBidId() {
    return jobId + ".b1";
  }

  CompletionStage<BookResult> placeFirstBid(JobState s) {
    Bid bid = s.spec().bid(firstBidId(), s.spec().estimatedTokens(), s.escalateAtMillis(), Set.of());
    return books.submit(s.spec().useCase(), new BookOp.PlaceBid(bid));
  }

  /**
   * A fresh bid for what is left, away from every provider already tried. Its escalation point is
   * now, so it fills at once or expires at once: it never rests.
   */
  CompletionStage<BookResult> placeMoveBid(JobState s, String bidId, long remaining, long now) {
    Bid bid = s.spec().bid(bidId, remaining, now, s.triedProviders());
    return books.submit(s.spec().useCase(), new BookOp.PlaceBid(bid));
  }

  CompletionStage<BookResult> cancelBid(String useCase, String bidId) {
    return books.submit(useCase, new BookOp.CancelBid(bidId));
  }

  CompletionStage<OrderBook.BidStatus> bidStatus(String useCase, String bidId) {
    return books.bidStatus(useCase, bidId);
  }

  /** The fill of {@code bidId} in a book's answer, or null. */
  static Fill filled(BookResult result, String bidId) {
    Fill filled = null;
    if (result instanceof BookResult.Accepted a) {
      for (BookEvent e : a.events()) {
        if (e instanceof BookEvent.Filled f && f.fill().bidId().equals(bidId)) filled = f.fill();
      }
    }
    return filled;
  }

  /** Whether a book's answer says {@code bidId} expired. */
  static boolean expired(BookResult result, String bidId) {
    boolean expired = false;
    if (result instanceof BookResult.Accepted a) {
      for (BookEvent e : a.events()) {
        if (e instanceof BookEvent.BidExpired x && x.bidId().equals(bidId)) expired = true;
      }
    }
    return expired;
  }

  /** Gives back the fill of a leg the work moved off, with what was served on it. */
  void releaseLeg(JobState s, Leg leg, boolean failed) {
    if (leg == null || leg.fillId() == null) return; // settlement releases every leg's fill again, in case this one is lost
    releaseWithRetries(s.spec().useCase(), new BookOp.ReleaseFill(leg.fillId(), s.counts(leg.no()).tokens(), failed), 3);
  }

  /** Gives a fill the job does not use back to the book (nothing was served on it), trying again if the book does not answer. */
  void release(String useCase, Fill fill) {
    releaseWithRetries(useCase, new BookOp.ReleaseFill(fill.fillId(), 0, true), 5);
  }

  private void releaseWithRetries(String useCase, BookOp.ReleaseFill op, int attempts) {
    Patterns.retry(() -> books.submit(useCase, op), attempts, retryDelay, system).whenComplete((r, failure) -> {
      // Settlement releases every leg's fill again; a fill nothing runs on is found again after a restart.
      if (failure != null) log.error("Job {}: could not release fill {} in the {} book: {}", jobId, op.fillId(), useCase, failure.toString());
    });
  }

  /**
   * Settlement's part: every leg's fill released once (failed unless it is the last leg of a
   * completed job), and a fill of the first bid the job never took up. Completes when the book has
   * answered them all; fails if it did not, for settlement to run again.
   */
  CompletableFuture<Void> releaseEveryFill(JobState s) {
    JobSpec spec = s.spec();
    Leg last = s.currentLeg();
    List<CompletableFuture<BookResult>> releases = new ArrayList<>();
    for (Leg leg : s.legs()) {
      if (leg.fillId() == null) continue;
      boolean failed = s.phase() != JobPhase.COMPLETED || leg != last;
      releases.add(books.submit(spec.useCase(), new BookOp.ReleaseFill(leg.fillId(), s.counts(leg.no()).tokens(), failed))
          .toCompletableFuture());
    }
    // The first bid, and a move bid whose answer was lost, may hold a fill the job never took up: release it.
    Set<String> legFills = new HashSet<>();
    s.legs().forEach(l -> legFills.add(l.fillId()));
    releases.add(releaseUnused(spec.useCase(), firstBidId(), legFills));
    if (s.unresolvedMove() != null) releases.add(releaseUnused(spec.useCase(), s.unresolvedMove().bidId(), legFills));
    return CompletableFuture.allOf(releases.toArray(CompletableFuture[]::new));
  }

  private CompletableFuture<BookResult> releaseUnused(String useCase, String bidId, Set<String> legFills) {
    return books.bidStatus(useCase, bidId).thenCompose(st -> st.fill() != null && !legFills.contains(st.fill().fillId())
        ? books.submit(useCase, new BookOp.ReleaseFill(st.fill().fillId(), 0, true))
        : CompletableFuture.<BookResult>completedFuture(null)).toCompletableFuture();
  }
}
