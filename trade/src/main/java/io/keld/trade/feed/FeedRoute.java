package io.keld.trade.feed;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.extractWebSocketUpgrade;

import io.keld.kit.ProblemException;
import io.keld.ixp.Ids;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import io.keld.marketplace.entity.BookClient;
import io.keld.trade.asks.AskService;
import io.keld.trade.asks.AskView;
import io.keld.trade.asks.ProviderAsk;
import io.keld.flow.pacing.Capacity;
import io.keld.trade.providers.ProviderDirectory;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /trade/v1/feed}: the providers' WebSocket (protocol in {@code ixp/spec/trade-feed.asyncapi.yaml}).
 * Incoming messages are started in order and answered in order, each with an {@code ack} or an
 * {@code error} carrying its {@code id}; a bad message is answered and changes nothing, and the
 * socket stays open. A command does not wait for the one before it to be answered (up to
 * {@link FeedSettings#inFlight()} at a time): an amend's answer waits for two commits (the book's
 * journal, then the provider's index), and a provider streaming amends would otherwise wait for
 * both before its next amend even reached the book. What keeps the order is that a command is
 * started only once the one before it has reached its book (see {@link #start}). When an
 * organization's last connection to this node ends, its asks marked {@code cancel_on_disconnect}
 * are withdrawn.
 */
public final class FeedRoute {

  private static final Logger log = LoggerFactory.getLogger(FeedRoute.class);
  /** Largest incoming message read. */
  static final int MAX_MESSAGE_CHARS = 64 * 1024;

  private final ActorSystem<?> system;
  private final Materializer materializer;
  private final AskService asks;
  private final ProviderDirectory directory;
  private final FeedTopics topics;
  private final BookClient books;
  private final FeedSettings settings;
  private final ConcurrentHashMap<String, AtomicInteger> connections = new ConcurrentHashMap<>();

  public FeedRoute(ActorSystem<?> system, AskService asks, ProviderDirectory directory, FeedTopics topics, BookClient books,
      FeedSettings settings) {
    this.system = system;
    this.materializer = Materializer.matFromSystem(system);
    this.asks = asks;
    this.directory = directory;
    this.topics = topics;
    this.books = books;
    this.settings = settings;
  }

  /**
   * The feed for an authenticated provider key. A request that is not a WebSocket upgrade is
   * refused before anything is set up, and a connection's session starts only when its stream does.
   */
  public Route route(Principal p) {
    return extractWebSocketUpgrade(upgrade -> complete(upgrade.handleMessagesWith(Flow.fromMaterializer((mat, attrs) -> connection(p)))));
  }

  /** How many feed connections an organization has to this node. */
  public int connections(String orgId) {
    AtomicInteger n = connections.get(orgId);
    return n == null ? 0 : n.get();
  }

  /**
   * One connection: its outgoing queue is part of the connection's own stream (no stream of its
   * own in between, which cost a hand-over per message sent), and its {@link FeedSession} starts
   * when that stream does. Incoming messages wait for the session.
   */
  private Flow<Message, Message, NotUsed> connection(Principal p) {
    CompletableFuture<ActorRef<FeedSession.Msg>> session = new CompletableFuture<>();
    Running running = new Running();
    Source<Message, NotUsed> outgoing = Source.<Message>queue(settings.buffer())
        .viaMat(KillSwitches.single(), Keep.both())
        .mapMaterializedValue(queueAndSwitch -> {
          connections.computeIfAbsent(p.orgId(), o -> new AtomicInteger()).incrementAndGet();
          session.complete(system.systemActorOf(
              FeedSession.create(p.orgId(), queueAndSwitch.first(), queueAndSwitch.second(), topics, books, settings, () -> disconnected(p.orgId())),
              "trade-feed-" + Ids.random(12), Props.empty()));
          return NotUsed.getInstance();
        });
    Sink<Message, NotUsed> incoming = Flow.<Message>create()
        .mapAsync(1, this::text)
        .mapAsync(1, text -> session.thenCompose(s -> running.track(() -> start(p, text))))
        .mapAsync(settings.inFlight(), answer -> answer) // answers in the order the commands came, each as soon as it and those before it are ready
        .map(answer -> {
          session.join().tell(answer); // the session exists: the command was started after it
          return answer;
        })
        // Once the commands already started are over, even when the socket failed: the close withdraws the
        // cancel_on_disconnect asks, and an ask still being posted must be among them.
        .to(Sink.onComplete(done -> running.ended().thenCompose(none -> session).thenAccept(s -> s.tell(new FeedSession.Closed()))));
    return Flow.fromSinkAndSourceCoupled(incoming, outgoing);
  }

  private void disconnected(String orgId) {
    AtomicInteger n = connections.get(orgId);
    if (n == null || n.decrementAndGet() > 0) return;
    asks.list(orgId, ProviderAsk.OPEN, 1000).thenAccept(open -> {
      for (ProviderAsk a : open) {
        if (!a.cancelOnDisconnect() || connections(orgId) > 0) continue;
        asks.withdraw(orgId, a.id()).whenComplete((w, e) -> {
          if (e != null) log.warn("cancel-on-disconnect could not withdraw ask {} of {}: {}", a.id(), orgId, e.getMessage());
        });
      }
    });
  }

  /** Stands for a binary message, which is drained (a stream stage drops null elements, so it cannot be null). */
  private static final String BINARY = "\u0000binary";
  private static final String TOO_LONG = "\u0000too-long";

  /** A text message in full ({@link #BINARY} for a binary one, {@link #TOO_LONG} past the limit). */
  private CompletionStage<String> text(Message m) {
    if (m.isText()) {
      // Small messages arrive whole: no stream to run for them (running one per message costs an actor).
      if (m.asTextMessage().isStrict()) {
        String strict = m.asTextMessage().getStrictText();
        return CompletableFuture.completedFuture(strict.length() > MAX_MESSAGE_CHARS ? TOO_LONG : strict);
      }
      return m.asTextMessage().getStreamedText().limitWeighted(MAX_MESSAGE_CHARS + 1, s -> (long) s.length())
          .runFold(new StringBuilder(), StringBuilder::append, materializer)
          .thenApply(StringBuilder::toString)
          .exceptionally(tooLong -> TOO_LONG);
    }
    return m.asBinaryMessage().getStreamedData().runWith(Sink.ignore(), materializer).thenApply(d -> BINARY);
  }

  /**
   * Starts one command and completes once the next may start, with its answer to come (what to
   * tell the session: a reply, or the subscription change that the session acknowledges itself).
   * An amend or withdrawal completes once its operation is in the book's queue: after the ask is
   * found (from memory, or read from the index), not after it is written. So two commands on one
   * ask reach the book in the order sent. A capacity message completes only when it is applied (it
   * changes several asks and an endpoint, and is rare). A post completes at once: nothing sent
   * after it can name its ask before its ack tells the id.
   */
  private CompletionStage<CompletionStage<FeedSession.Msg>> start(Principal p, String text) {
    String id = null;
    try {
      if (text.equals(BINARY)) throw ProblemException.of(ProblemType.BAD_REQUEST, "binary messages are not part of the feed protocol; send JSON text");
      if (text.equals(TOO_LONG)) throw ProblemException.of(ProblemType.PAYLOAD_TOO_LARGE, "a message is at most " + MAX_MESSAGE_CHARS + " characters");
      IncomingMessage msg = IncomingMessage.read(text);
      id = msg.id();
      String correlation = id;
      FeedCommand command = msg.command(p.role());
      if (command instanceof FeedCommand.PostAsk post) {
        return CompletableFuture.completedFuture(answer(correlation, () -> asks.post(p.orgId(), post.ask())));
      } else if (command instanceof FeedCommand.AmendAsk amend) {
        return onOwnAsk(p, correlation, amend.askId(), row -> asks.amend(row, amend.amendment()));
      } else if (command instanceof FeedCommand.WithdrawAsk withdraw) {
        return onOwnAsk(p, correlation, withdraw.askId(), asks::withdraw);
      } else if (command instanceof FeedCommand.Capacity limits) {
        return answerOf(correlation, () -> capacity(p, limits)).thenApply(CompletableFuture::completedFuture);
      } else if (command instanceof FeedCommand.Subscribe subscribe) {
        // The session acknowledges, after it has subscribed.
        return ready(new FeedSession.Subscribe(correlation, knownUseCases(subscribe.useCases())));
      } else if (command instanceof FeedCommand.Unsubscribe unsubscribe) {
        return ready(new FeedSession.Unsubscribe(correlation, knownUseCases(unsubscribe.useCases())));
      } else {
        throw new IllegalStateException("no handler for " + command);
      }
    } catch (RuntimeException e) {
      return ready(new FeedSession.Reply(error(id, e)));
    }
  }

  /** A command on one of the provider's asks: started once the ask is found (a missing one is answered with its 404). */
  private CompletionStage<CompletionStage<FeedSession.Msg>> onOwnAsk(Principal p, String id, String askId,
      Function<ProviderAsk, CompletionStage<ProviderAsk>> command) {
    return asks.own(p.orgId(), askId).handle((row, failure) -> failure != null
        ? CompletableFuture.completedFuture(new FeedSession.Reply(error(id, failure)))
        : answer(id, () -> command.apply(row)));
  }

  private static CompletionStage<FeedSession.Msg> answer(String id, Supplier<CompletionStage<ProviderAsk>> command) {
    return answerOf(id, () -> command.get().thenApply(FeedRoute::askResult));
  }

  /** The command's {@code ack}, or its {@code error} (whether it fails at once or later). */
  private static CompletionStage<FeedSession.Msg> answerOf(String id, Supplier<CompletionStage<FeedMessage.AckResult>> command) {
    CompletionStage<FeedMessage.AckResult> result;
    try {
      result = command.get();
    } catch (RuntimeException e) {
      result = CompletableFuture.failedFuture(e);
    }
    return result.handle((r, failure) -> new FeedSession.Reply(failure == null ? new FeedMessage.Ack(id, r) : error(id, failure)));
  }

  private static CompletionStage<CompletionStage<FeedSession.Msg>> ready(FeedSession.Msg answer) {
    return CompletableFuture.completedFuture(CompletableFuture.completedFuture(answer));
  }

  private CompletionStage<FeedMessage.AckResult> capacity(Principal p, FeedCommand.Capacity limits) {
    long tps = limits.tokensPerSecond();
    int concurrency = limits.maxConcurrency();
    String endpointId = limits.endpointId();
    CompletionStage<?> endpoint = endpointId == null ? CompletableFuture.completedFuture(null)
        : directory.capacity(p.orgId(), endpointId, new Capacity(concurrency, tps));
    return endpoint.thenCompose(v -> {
      CompletionStage<Void> all = CompletableFuture.completedFuture(null);
      for (String askId : limits.askIds()) all = all.thenCompose(x -> asks.capacity(p.orgId(), askId, tps, Math.max(1, concurrency)).thenApply(a -> null));
      return all;
    }).thenApply(v -> new FeedMessage.CapacityApplied(tps, concurrency, endpointId, limits.askIds()));
  }

  private static FeedMessage.AckResult askResult(ProviderAsk a) {
    return new FeedMessage.AskResult(AskView.of(a));
  }

  /** The use cases, each one in the node's catalog. */
  private List<String> knownUseCases(List<String> useCases) {
    for (String u : useCases) asks.requireKnownUseCase(u, "use_cases");
    return useCases;
  }

  /** An error message: the problem's status, its type's short code, the field, what to do. */
  static FeedMessage.Error error(String correlationId, Throwable failure) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    Problem problem = t instanceof ProblemException pe ? pe.problem() : Problem.of(ProblemType.INTERNAL, "the message could not be handled");
    if (!(t instanceof ProblemException)) log.error("feed message failed", t);
    String code = problem.type().substring(problem.type().lastIndexOf('/') + 1);
    return new FeedMessage.Error(correlationId, problem.status(), code, problem.detail(), problem.field());
  }

  /**
   * A connection's commands that were started and are not answered yet. When the socket fails, the
   * stream's stages stop at once, but what they started goes on: the connection's end waits for it.
   */
  private static final class Running {
    private final AtomicInteger count = new AtomicInteger();
    private final CompletableFuture<Void> none = new CompletableFuture<>();
    private volatile boolean ended;

    CompletionStage<CompletionStage<FeedSession.Msg>> track(Supplier<CompletionStage<CompletionStage<FeedSession.Msg>>> start) {
      count.incrementAndGet();
      CompletionStage<CompletionStage<FeedSession.Msg>> started;
      try {
        started = start.get();
      } catch (RuntimeException e) {
        finished();
        throw e;
      }
      started.whenComplete((answer, failure) -> {
        if (answer == null) finished();
        else answer.whenComplete((m, f) -> finished());
      });
      return started;
    }

    private void finished() {
      if (count.decrementAndGet() == 0 && ended) none.complete(null);
    }

    /** Completes once no started command is running (at once when none is). */
    CompletionStage<Void> ended() {
      ended = true;
      if (count.get() == 0) none.complete(null);
      return none;
    }
  }
}
