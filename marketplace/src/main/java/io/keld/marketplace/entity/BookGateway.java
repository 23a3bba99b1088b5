package io.keld.marketplace.entity;

import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.pattern.StatusReply;

/**
 * A node-local front for one book that turns many single operations into few writes: it keeps one
 * {@link OrderBook.Execute} in flight and gathers what arrives meanwhile into the next one (up to
 * {@code maxBatch}). An idle book gets each operation at once; a busy one gets batches as large as
 * the load, so the journal sees one write per batch, not per bid.
 *
 * <p>What waits is bounded ({@code 20 × maxBatch}): past that the gateway refuses at once, so an
 * overloaded book sheds load with a clear error instead of growing a queue until callers time out.
 */
public final class BookGateway extends AbstractBehavior<BookGateway.Command> {

  public sealed interface Command {}

  /** One operation; the reply is its result, or an error when the book did not answer in time. */
  public record Submit(BookOp op, ActorRef<StatusReply<BookResult>> replyTo) implements Command {}

  private record BatchDone(List<Submit> batch, OrderBook.ExecuteReply reply, Throwable failure) implements Command {}

  public static Behavior<Command> create(RecipientRef<OrderBook.Command> book, int maxBatch, Duration timeout) {
    return Behaviors.setup(ctx -> new BookGateway(ctx, book, maxBatch, timeout));
  }

  private final RecipientRef<OrderBook.Command> book;
  private final int maxBatch;
  private final int maxPending;
  private final Duration timeout;
  private final ArrayDeque<Submit> pending = new ArrayDeque<>();
  private boolean inFlight;

  private BookGateway(ActorContext<Command> ctx, RecipientRef<OrderBook.Command> book, int maxBatch, Duration timeout) {
    super(ctx);
    this.book = book;
    this.maxBatch = maxBatch;
    this.maxPending = 20 * maxBatch;
    this.timeout = timeout;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(BatchDone.class, this::onBatchDone)
        .build();
  }

  private Behavior<Command> onSubmit(Submit submit) {
    if (pending.size() >= maxPending) {
      submit.replyTo().tell(StatusReply.error("the order book is overloaded (" + pending.size()
          + " operations waiting); retry later"));
      return this;
    }
    pending.add(submit);
    if (!inFlight) sendBatch();
    return this;
  }

  private Behavior<Command> onBatchDone(BatchDone done) {
    inFlight = false;
    if (done.failure() != null) {
      // The write may or may not have happened: say so rather than guess.
      StatusReply<BookResult> error = StatusReply.error("the order book did not answer within " + timeout
          + "; the outcome is unknown (" + done.failure().getMessage() + ")");
      for (Submit s : done.batch()) s.replyTo().tell(error);
    } else {
      List<BookResult> results = done.reply().results();
      for (int i = 0; i < results.size(); i++) done.batch().get(i).replyTo().tell(StatusReply.success(results.get(i)));
    }
    if (!pending.isEmpty()) sendBatch();
    return this;
  }

  private void sendBatch() {
    List<Submit> batch = new ArrayList<>(Math.min(pending.size(), maxBatch));
    List<BookOp> ops = new ArrayList<>(batch.size());
    while (!pending.isEmpty() && batch.size() < maxBatch) {
      Submit s = pending.poll();
      batch.add(s);
      ops.add(s.op());
    }
    inFlight = true;
    getContext().ask(
        OrderBook.ExecuteReply.class,
        book,
        timeout,
        replyTo -> new OrderBook.Execute(ops, replyTo),
        (reply, failure) -> new BatchDone(batch, reply, failure));
  }
}
