package io.keld.marketplace.entity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookSnapshot;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.Quote;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The node-local replicas follow their books' persisted events: every change shows up without a
 * snapshot, and a gap, a restarted book or a quiet book brings one. Two nodes: the books run on
 * {@code books}, and {@code edge} only reaches them through a sharding proxy, as an edge node would.
 */
class LocalBooksTest {

  private static final long T0 = Instant.parse("2026-12-01T12:00:00Z").toEpochMilli();
  /** A stopped clock, so the replica and the book quote the same instant and their states compare exactly. */
  private static final Clock CLOCK = Clock.fixed(Instant.ofEpochMilli(T0), ZoneOffset.UTC);
  /** Long enough that only events, never the quiet timer, can bring a change within a test. */
  private static final Duration NEVER = Duration.ofHours(1);
  private static final String CRASH_ASK = "ask_crash";

  private static ActorTestKit books;
  private static ActorTestKit edge;
  private static BookClient onBooksNode;
  private static BookClient onEdgeNode;

  @BeforeAll
  static void startTwoNodes() {
    books = ActorTestKit.create("LocalBooksTest", nodeConfig("[books]"));
    edge = ActorTestKit.create("LocalBooksTest", nodeConfig("[]"));
    Cluster first = Cluster.get(books.system());
    first.manager().tell(Join.create(first.selfMember().address()));
    Cluster.get(edge.system()).manager().tell(Join.create(first.selfMember().address()));
    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(20), () -> {
      assertEquals(MemberStatus.up(), first.selfMember().status());
      assertEquals(MemberStatus.up(), Cluster.get(edge.system()).selfMember().status());
      return null;
    });

    // A listener that fails on one ask: the book's write is persisted, then the book restarts.
    BookListener crashOnce = (useCase, events) -> {
      for (BookEvent e : events) {
        if (e instanceof BookEvent.AskPosted p && p.ask().askId().equals(CRASH_ASK)) throw new IllegalStateException("listener fails");
      }
    };
    OrderBook.init(books.system(), CLOCK, MatchingRules.DEFAULT, crashOnce);
    OrderBook.init(edge.system(), CLOCK, MatchingRules.DEFAULT, crashOnce); // a proxy: the edge node has no role "books"
    onBooksNode = new BookClient(books.system(), 16, Duration.ofSeconds(15));
    onEdgeNode = new BookClient(edge.system(), 16, Duration.ofSeconds(15));
  }

  private static Config nodeConfig(String roles) {
    return ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical { hostname = "127.0.0.1", port = 0 }
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.cluster.roles = %s
        pekko.cluster.sharding.role = books
        pekko.cluster.sharding.remember-entities-store = eventsourced
        pekko.actor.serializers.jackson-cbor = "org.apache.pekko.serialization.jackson.JacksonCborSerializer"
        pekko.actor.serialization-bindings { "io.keld.ixp.CborSerializable" = jackson-cbor }
        pekko.loglevel = WARNING
        """.formatted(roles))
        .withFallback(PersistenceTestKitPlugin.config())
        .withFallback(PersistenceTestKitSnapshotPlugin.config())
        .withFallback(ConfigFactory.load());
  }

  @AfterAll
  static void stopNodes() {
    edge.shutdownTestKit();
    books.shutdownTestKit();
  }

  @Test
  void followsPostsAmendsWithdrawalsAndFillsWithoutPolling() throws Exception {
    String useCase = "summarize";
    LocalBooks local = new LocalBooks(books.system(), onBooksNode, List.of(useCase), NEVER, CLOCK);
    awaitReplicaIsTheBook(local, useCase);
    assertTrue(local.loaded());
    long resyncsAtStart = local.resyncs();

    submit(useCase, new BookOp.PostAsk(ask("ask_a", "prv_a", useCase, 100_000)));
    submit(useCase, new BookOp.PostAsk(ask("ask_b", "prv_b", useCase, 120_000)));
    awaitOffers(local, useCase, List.of("ask_a", "ask_b"));

    submit(useCase, new BookOp.AmendAsk("ask_b", "prv_b", 90_000L, null, null, null, null));
    awaitOffers(local, useCase, List.of("ask_b", "ask_a"));
    submit(useCase, new BookOp.UpdateCapacity("ask_a", "prv_a", 9_000, 2));
    awaitReplicaIsTheBook(local, useCase);

    BookResult placed = submit(useCase, new BookOp.PlaceBid(bid("job_fills", useCase, 150_000)));
    BookEvent.Filled filled = assertInstanceOf(BookEvent.Filled.class, ((BookResult.Accepted) placed).events().get(0));
    assertEquals("ask_b", filled.fill().askId());
    submit(useCase, new BookOp.PlaceBid(bid("job_rests", useCase, 10_000)));
    awaitReplicaIsTheBook(local, useCase);
    // The fill holds ask_b's only slot, so the replica's quote now starts on ask_a, like the book's.
    Bid next = bid("job_quote", useCase, 150_000);
    Quote quoted = local.quote(useCase, next, 3).orElseThrow();
    assertEquals(onBooksNode.quote(useCase, next, 3).toCompletableFuture().get(5, TimeUnit.SECONDS), quoted);

    submit(useCase, new BookOp.ReleaseFill(filled.fill().fillId(), 20_000, false));
    submit(useCase, new BookOp.CancelBid("job_rests"));
    submit(useCase, new BookOp.WithdrawAsk("ask_a", "prv_a"));
    awaitOffers(local, useCase, List.of("ask_b"));
    awaitReplicaIsTheBook(local, useCase);

    assertEquals(resyncsAtStart, local.resyncs(), "every change arrived as events; no snapshot after the first");
  }

  @Test
  void aGapInTheSequenceNumbersBringsASnapshot() throws Exception {
    String useCase = "classify";
    LocalBooks local = new LocalBooks(books.system(), onBooksNode, List.of(useCase), NEVER, CLOCK);
    submit(useCase, new BookOp.PostAsk(ask("ask_real", "prv_a", useCase, 100_000)));
    awaitOffers(local, useCase, List.of("ask_real"));
    long resyncsBefore = local.resyncs();

    // A batch from the same book that skips two sequence numbers, as if two were lost in transit.
    OrderBook.SnapshotAt at = onBooksNode.snapshot(useCase).toCompletableFuture().get(5, TimeUnit.SECONDS);
    Ask ghost = ask("ask_ghost", "prv_g", useCase, 1_000);
    BookEventTopics.get(books.system()).topic(useCase).tell(Topic.publish(
        new OrderBook.PersistedEvents(useCase, at.incarnation(), at.seqNr() + 3, List.of(new BookEvent.AskPosted(ghost, T0)))));

    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(15), () -> {
      assertEquals(resyncsBefore + 1, local.resyncs());
      return null;
    });
    awaitReplicaIsTheBook(local, useCase);
    assertEquals(List.of("ask_real"), askIds(local.offers(useCase)), "what came after the gap is not applied");

    // And it follows the book again from where the snapshot stood.
    submit(useCase, new BookOp.PostAsk(ask("ask_after", "prv_b", useCase, 90_000)));
    awaitOffers(local, useCase, List.of("ask_after", "ask_real"));
    assertEquals(resyncsBefore + 1, local.resyncs());
  }

  @Test
  void aRestartedBookBringsASnapshot() throws Exception {
    String useCase = "extract";
    LocalBooks local = new LocalBooks(books.system(), onBooksNode, List.of(useCase), NEVER, CLOCK);
    submit(useCase, new BookOp.PostAsk(ask("ask_a", "prv_a", useCase, 100_000)));
    awaitOffers(local, useCase, List.of("ask_a"));
    long resyncsBefore = local.resyncs();
    String incarnationBefore = onBooksNode.snapshot(useCase).toCompletableFuture().get(5, TimeUnit.SECONDS).incarnation();

    // The write is persisted, then the listener fails and the book restarts under a new incarnation;
    // the caller hears nothing (its operation times out).
    onBooksNode.submit(useCase, new BookOp.PostAsk(ask(CRASH_ASK, "prv_c", useCase, 80_000)));
    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(10), () -> {
      assertTrue(local.resyncs() > resyncsBefore, "the replica resynchronised");
      OrderBook.SnapshotAt now = onBooksNode.snapshot(useCase).toCompletableFuture().get(5, TimeUnit.SECONDS);
      assertTrue(!now.incarnation().equals(incarnationBefore), "the book restarted");
      assertEquals(now.book(), local.replicaSnapshot(useCase));
      return null;
    });
    assertEquals(List.of(CRASH_ASK, "ask_a"), askIds(local.offers(useCase)));

    long resyncsAfterRestart = local.resyncs();
    submit(useCase, new BookOp.WithdrawAsk("ask_a", "prv_a"));
    awaitOffers(local, useCase, List.of(CRASH_ASK));
    assertEquals(resyncsAfterRestart, local.resyncs(), "following the new incarnation needs no further snapshot");
  }

  @Test
  void aQuietBookIsReReadOnTheSlowTimer() {
    String useCase = "chat";
    LocalBooks local = new LocalBooks(books.system(), onBooksNode, List.of(useCase), Duration.ofMillis(200), CLOCK);
    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(15), () -> {
      assertTrue(local.resyncs() >= 3, "resyncs: " + local.resyncs());
      return null;
    });
  }

  @Test
  void aReplicaOnAnotherNodeFollowsTheBook() throws Exception {
    String useCase = "code";
    LocalBooks local = new LocalBooks(edge.system(), onEdgeNode, List.of(useCase), NEVER, CLOCK);
    awaitReplicaIsTheBook(local, useCase);
    // The book's node learns of the edge node's topic through the cluster receptionist.
    TestProbe<Topic.TopicStats> stats = books.createTestProbe();
    stats.awaitAssert(Duration.ofSeconds(20), () -> {
      BookEventTopics.get(books.system()).topic(useCase).tell(Topic.getTopicStats(stats.ref()));
      assertTrue(stats.receiveMessage().topicInstanceCount() >= 1);
      return null;
    });
    long resyncsBefore = local.resyncs();

    submit(useCase, new BookOp.PostAsk(ask("ask_a", "prv_a", useCase, 100_000)));
    submit(useCase, new BookOp.PostAsk(ask("ask_b", "prv_b", useCase, 120_000)));
    awaitOffers(local, useCase, List.of("ask_a", "ask_b"));
    submit(useCase, new BookOp.AmendAsk("ask_b", "prv_b", 50_000L, null, null, null, null));
    submit(useCase, new BookOp.PlaceBid(bid("job_1", useCase, 150_000)));
    submit(useCase, new BookOp.WithdrawAsk("ask_a", "prv_a"));
    awaitReplicaIsTheBook(local, useCase);
    assertEquals(List.of(), local.offers(useCase), "ask_a is withdrawn and ask_b's one slot is taken by the fill");
    assertEquals(resyncsBefore, local.resyncs(), "the events crossed the cluster; no snapshot was needed");
  }

  @Test
  void whatCrossesNodesSerializes() throws Exception {
    String useCase = "translate";
    submit(useCase, new BookOp.PostAsk(ask("ask_a", "prv_a", useCase, 100_000)));
    OrderBook.SnapshotAt at = onEdgeNode.snapshot(useCase).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertEquals(1, at.book().asks().size());
    SerializationTestKit serialization = new SerializationTestKit(books.system());
    serialization.verifySerialization(at, true);
    serialization.verifySerialization(new OrderBook.PersistedEvents(useCase, at.incarnation(), at.seqNr(),
        List.of(new BookEvent.AskWithdrawn("ask_a", T0))), true);
  }

  private static BookResult submit(String useCase, BookOp op) throws Exception {
    BookResult result = onBooksNode.submit(useCase, op).toCompletableFuture().get(15, TimeUnit.SECONDS);
    assertInstanceOf(BookResult.Accepted.class, result, () -> op + " -> " + result);
    return result;
  }

  private static void awaitReplicaIsTheBook(LocalBooks local, String useCase) {
    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(15), () -> {
      BookSnapshot book = onBooksNode.snapshot(useCase).toCompletableFuture().get(5, TimeUnit.SECONDS).book();
      BookSnapshot replica = local.replicaSnapshot(useCase);
      assertNotNull(replica);
      assertEquals(book, replica);
      return null;
    });
  }

  private static void awaitOffers(LocalBooks local, String useCase, List<String> askIds) {
    TestProbe<Object> probe = books.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(15), () -> {
      assertEquals(askIds, askIds(local.offers(useCase)));
      return null;
    });
  }

  private static List<String> askIds(List<Quote.Option> offers) {
    return offers.stream().map(Quote.Option::askId).toList();
  }

  private static Ask ask(String id, String provider, String useCase, long price) {
    return new Ask(id, provider, "bert-large", useCase, price, 75, 5_000, 1, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "us", Set.of("zdr"));
  }

  private static Bid bid(String id, String useCase, long ceiling) {
    long deadline = T0 + 600_000;
    return new Bid(id, useCase, Set.of(), 50, ceiling, 20_000, deadline, deadline - 30_000, Set.of(), Set.of("zdr"), Set.of(), Set.of());
  }
}
