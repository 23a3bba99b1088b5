package io.keld.marketplace.entity;

import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Quote;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * How the rest of a node talks to the books: single operations go through a per-book
 * {@link BookGateway} on this node (batched into few writes); reads go straight to the entity.
 *
 * <p>The answer to {@link #submit} comes back as a plain {@link CompletableFuture} completed on the
 * thread that received the gateway's reply: a command's short follow-up (an amend's index write, its
 * acknowledgement) runs there, with no hand-over per operation. Pekko's ask hands out Scala's
 * {@code CompletionStage}, which runs each dependent stage "async" on the JDK's default executor
 * (see {@code io.keld.node.runtime.CommonPool}). Reads keep that behaviour, so that heavier work on
 * their answers (a replica rebuilt from a snapshot, a quote rendered) never runs on a book's thread.
 */
public final class BookClient {

  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final int maxBatch;
  private final Duration timeout;
  private final ConcurrentHashMap<String, ActorRef<BookGateway.Command>> gateways = new ConcurrentHashMap<>();

  public BookClient(ActorSystem<?> system, int maxBatch, Duration timeout) {
    this.system = system;
    this.sharding = ClusterSharding.get(system);
    this.maxBatch = maxBatch;
    this.timeout = timeout;
  }

  /** Runs one operation on the book of {@code useCase}; fails when the book does not answer in time. */
  public CompletionStage<BookResult> submit(String useCase, BookOp op) {
    return direct(AskPattern.askWithStatus(gateway(useCase), replyTo -> new BookGateway.Submit(op, replyTo),
        timeout.plus(timeout), system.scheduler()));
  }

  public CompletionStage<Quote> quote(String useCase, Bid bid, int maxOptions) {
    return sharding.entityRefFor(OrderBook.ENTITY_KEY, useCase).ask(r -> new OrderBook.GetQuote(bid, maxOptions, r), timeout);
  }

  public CompletionStage<BookView> view(String useCase) {
    return sharding.entityRefFor(OrderBook.ENTITY_KEY, useCase).ask(OrderBook.GetView::new, timeout);
  }

  /** The whole book and the sequence number it stands at, for a node-local replica. */
  public CompletionStage<OrderBook.SnapshotAt> snapshot(String useCase) {
    return sharding.entityRefFor(OrderBook.ENTITY_KEY, useCase).ask(OrderBook.GetSnapshot::new, timeout);
  }

  public CompletionStage<OrderBook.BidStatus> bidStatus(String useCase, String bidId) {
    return sharding.entityRefFor(OrderBook.ENTITY_KEY, useCase).ask(r -> new OrderBook.GetBidStatus(bidId, r), timeout);
  }

  /** The same outcome as a plain future whose dependents run where it completes (see the class comment). */
  static <T> CompletableFuture<T> direct(CompletionStage<T> stage) {
    CompletableFuture<T> out = new CompletableFuture<>();
    stage.whenCompleteAsync((value, failure) -> {
      if (failure != null) out.completeExceptionally(failure);
      else out.complete(value);
    }, Runnable::run);
    return out;
  }

  private ActorRef<BookGateway.Command> gateway(String useCase) {
    return gateways.computeIfAbsent(useCase, uc -> system.systemActorOf(
        BookGateway.create(sharding.entityRefFor(OrderBook.ENTITY_KEY, uc), maxBatch, timeout),
        "book-gateway-" + URLEncoder.encode(uc, StandardCharsets.UTF_8),
        OrderBook.dispatcher(system)));
  }
}
