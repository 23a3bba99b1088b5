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
import org.apache.pekko.Done;
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
 * Incoming messages are handled one at a time, in order, each answered with an {@code ack} or an
 * {@code error} carrying its {@code id}; a bad message is answered and changes nothing, and the
 * socket stays open. When an organization's last connection to this node ends, its asks marked
 * {@code cancel_on_disconnect} are withdrawn.
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
        .mapAsync(1, text -> session.thenCompose(s -> handle(p, s, text)))
        .to(Sink.onComplete(done -> session.thenAccept(s -> s.tell(new FeedSession.Closed()))));
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

  /** A text message in full (null for a binary one, which is drained). */
  private CompletionStage<String> text(Message m) {
    if (m.isText()) {
      // Small messages arrive whole: no stream to run for them (running one per message costs an actor).
      if (m.asTextMessage().isStrict()) {
        String strict = m.asTextMessage().getStrictText();
        return CompletableFuture.completedFuture(strict.length() > MAX_MESSAGE_CHARS ? "\u0000too-long" : strict);
      }
      return m.asTextMessage().getStreamedText().limitWeighted(MAX_MESSAGE_CHARS + 1, s -> (long) s.length())
          .runFold(new StringBuilder(), StringBuilder::append, materializer)
          .thenApply(StringBuilder::toString)
          .exceptionally(tooLong -> "\u0000too-long");
    }
    return m.asBinaryMessage().getStreamedData().runWith(Sink.ignore(), materializer).thenApply(d -> null);
  }

  private CompletionStage<Done> handle(Principal p, ActorRef<FeedSession.Msg> session, String text) {
    String id = null;
    try {
      if (text == null) throw ProblemException.of(ProblemType.BAD_REQUEST, "binary messages are not part of the feed protocol; send JSON text");
      if (text.equals("\u0000too-long")) throw ProblemException.of(ProblemType.PAYLOAD_TOO_LARGE, "a message is at most " + MAX_MESSAGE_CHARS + " characters");
      IncomingMessage msg = IncomingMessage.read(text);
      id = msg.id();
      String correlation = id;
      FeedCommand command = msg.command(p.role());
      CompletionStage<FeedMessage.AckResult> result;
      if (command instanceof FeedCommand.PostAsk post) {
        result = asks.post(p.orgId(), post.ask()).thenApply(FeedRoute::askResult);
      } else if (command instanceof FeedCommand.AmendAsk amend) {
        result = asks.amend(p.orgId(), amend.askId(), amend.amendment()).thenApply(FeedRoute::askResult);
      } else if (command instanceof FeedCommand.WithdrawAsk withdraw) {
        result = asks.withdraw(p.orgId(), withdraw.askId()).thenApply(FeedRoute::askResult);
      } else if (command instanceof FeedCommand.Capacity limits) {
        result = capacity(p, limits);
      } else if (command instanceof FeedCommand.Subscribe subscribe) {
        session.tell(new FeedSession.Subscribe(correlation, knownUseCases(subscribe.useCases())));
        return CompletableFuture.completedFuture(Done.getInstance()); // the session acknowledges, after it has subscribed
      } else if (command instanceof FeedCommand.Unsubscribe unsubscribe) {
        session.tell(new FeedSession.Unsubscribe(correlation, knownUseCases(unsubscribe.useCases())));
        return CompletableFuture.completedFuture(Done.getInstance());
      } else {
        throw new IllegalStateException("no handler for " + command);
      }
      return result.handle((r, failure) -> {
        session.tell(new FeedSession.Reply(failure == null ? new FeedMessage.Ack(correlation, r) : error(correlation, failure)));
        return Done.getInstance();
      });
    } catch (RuntimeException e) {
      session.tell(new FeedSession.Reply(error(id, e)));
      return CompletableFuture.completedFuture(Done.getInstance());
    }
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
}
