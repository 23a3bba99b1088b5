package io.keld.marketplace.entity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The OrderBook entity with an in-memory journal: replies, persisted events, recovery, timers, serialization. */
class OrderBookEntityTest {

  private static final Config CONFIG = EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.parseString("""
      pekko.loglevel = WARNING
      # A first write on a loaded 2-core machine has taken over 4 s; the default of 3 s made this flaky.
      pekko.actor.testkit.typed.single-expect-default = 15s
      """)).withFallback(ConfigFactory.load());
  private static final ActorTestKit testKit = ActorTestKit.create(CONFIG);
  private static final String USE_CASE = "classify";

  private TestProbe<List<BookEvent>> told;
  private EventSourcedBehaviorTestKit<OrderBook.Command, BookEvent, OrderBook.State> kit;

  @BeforeEach
  void setUp() {
    told = testKit.createTestProbe();
    BookListener listener = (useCase, events) -> told.ref().tell(events);
    kit = EventSourcedBehaviorTestKit.create(testKit.system(),
        OrderBook.create(USE_CASE, Clock.systemUTC(), MatchingRules.DEFAULT, listener),
        // The state is a mutable holder around the core; what is stored is its BookSnapshot.
        EventSourcedBehaviorTestKit.enabledSerializationSettings().withVerifyState(false));
    kit.clear();
  }

  @AfterAll
  static void tearDown() {
    testKit.shutdownTestKit();
  }

  @Test
  void oneCommandManyOperationsOneWrite() {
    long now = System.currentTimeMillis();
    var result = kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(
        new BookOp.PostAsk(ask("ask_1", "prv_1", 100_000)),
        new BookOp.PostAsk(ask("ask_2", "prv_2", 90_000)),
        new BookOp.PlaceBid(bid("job_1", 120_000, now + 600_000)),
        new BookOp.WithdrawAsk("ask_1", "prv_other")), r));

    List<BookResult> results = result.reply().results();
    assertEquals(4, results.size());
    BookResult.Accepted placed = assertInstanceOf(BookResult.Accepted.class, results.get(2));
    BookEvent.Filled filled = assertInstanceOf(BookEvent.Filled.class, placed.events().get(0));
    assertEquals("ask_2", filled.fill().askId());
    assertEquals(90_000, filled.fill().pricePerMtok());
    assertEquals(100_000L, filled.fill().bestCompetingPricePerMtok());
    assertEquals(MatchingRules.VERSION, filled.fill().ruleVersion());
    assertEquals(BookResult.Reason.NOT_YOUR_ASK, assertInstanceOf(BookResult.Rejected.class, results.get(3)).reason());

    assertEquals(3, result.events().size(), "the accepted operations' events, persisted together");
    assertEquals(result.events(), told.receiveMessage(), "the listener hears what was persisted");
  }

  @Test
  void readsCommitNothing() {
    long now = System.currentTimeMillis();
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(new BookOp.PostAsk(ask("ask_1", "prv_1", 100_000))), r));
    told.receiveMessage();
    var quote = kit.<Quote>runCommand(r -> new OrderBook.GetQuote(bid("job_q", 150_000, now + 600_000), 3, r));
    assertEquals(1, quote.reply().feasibleAsks());
    assertEquals("ask_1", quote.reply().options().get(0).askId());
    assertTrue(quote.events().isEmpty());
    var status = kit.<OrderBook.BidStatus>runCommand(r -> new OrderBook.GetBidStatus("job_q", r));
    assertEquals(OrderBook.BidStatus.Status.NOT_ON_BOOK, status.reply().status());
  }

  @Test
  void recoveryRebuildsTheSameBook() {
    long now = System.currentTimeMillis();
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(
        new BookOp.PostAsk(ask("ask_1", "prv_1", 100_000)),
        new BookOp.PlaceBid(bid("job_1", 120_000, now + 600_000)),
        new BookOp.PlaceBid(bid("job_2", 50_000, now + 600_000)),
        new BookOp.AmendAsk("ask_1", "prv_1", 95_000L, null, null, null, null)), r));
    BookSnapshot before = kit.getState().core().snapshot();

    var restarted = kit.restart();
    assertEquals(before, restarted.state().core().snapshot());
    assertTrue(restarted.state().core().isResting("job_2"));
  }

  @Test
  void eachWriteIsPublishedWithItsSequenceNumbersAndARestartAnnouncesItself() {
    long now = System.currentTimeMillis();
    TestProbe<OrderBook.PersistedEvents> published = testKit.createTestProbe();
    BookEventTopics.get(testKit.system()).topic(USE_CASE).tell(Topic.subscribe(published.ref()));
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(
        new BookOp.PostAsk(ask("ask_1", "prv_1", 100_000)),
        new BookOp.PlaceBid(bid("job_1", 50_000, now + 600_000))), r));
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(new BookOp.WithdrawAsk("ask_1", "prv_1")), r));

    // The book may announce its start (no events) after the probe subscribed; that is not a write.
    OrderBook.PersistedEvents first = published.fishForMessage(Duration.ofSeconds(3),
        m -> m.events().isEmpty() ? FishingOutcomes.continueAndIgnore() : FishingOutcomes.complete()).get(0);
    assertEquals(1, first.firstSeqNr());
    assertEquals(2, first.lastSeqNr());
    assertEquals(List.of(BookEvent.AskPosted.class, BookEvent.BidRested.class), first.events().stream().map(Object::getClass).toList());
    OrderBook.PersistedEvents second = published.receiveMessage();
    assertEquals(first.incarnation(), second.incarnation());
    assertEquals(3, second.firstSeqNr());
    assertEquals(3, second.lastSeqNr());
    var snapshot = kit.<OrderBook.SnapshotAt>runCommand(OrderBook.GetSnapshot::new).reply();
    assertEquals(first.incarnation(), snapshot.incarnation());
    assertEquals(3, snapshot.seqNr(), "a snapshot says which events it holds");

    kit.restart();
    OrderBook.PersistedEvents announced = published.receiveMessage();
    assertNotEquals(first.incarnation(), announced.incarnation());
    assertEquals(3, announced.lastSeqNr());
    assertTrue(announced.events().isEmpty());
    new SerializationTestKit(testKit.system()).verifySerialization(second, true);
  }

  @Test
  void aRestingBidExpiresAtItsEscalationPointAndTheListenerIsTold() {
    long now = System.currentTimeMillis();
    // The escalation point is 6 s out: far enough that even a slow first command on a loaded machine
    // rests the bid before it (a bid placed past its escalation point expires in the same write, see placeBid).
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(
        new BookOp.PlaceBid(new Bid("job_late", USE_CASE, Set.of(), 0, 10_000, 1_000, now + 60_000, now + 6_000,
            Set.of(), Set.of(), Set.of(), Set.of()))), r));
    List<BookEvent> placed = told.receiveMessage();
    assertInstanceOf(BookEvent.BidRested.class, placed.get(0));
    assertEquals(1, placed.size(), "the bid rests; it is not yet due: " + placed);
    assertTrue(kit.getState().core().isResting("job_late"));

    List<BookEvent> expiry = told.receiveMessage(Duration.ofSeconds(30));
    BookEvent.BidExpired expired = assertInstanceOf(BookEvent.BidExpired.class, expiry.get(0));
    assertEquals("job_late", expired.bidId());
    assertTrue(System.currentTimeMillis() >= now + 2_000, "not before its escalation point");
    assertTrue(!kit.getState().core().isResting("job_late"));
  }

  @Test
  void snapshotsSerialize() {
    long now = System.currentTimeMillis();
    kit.<OrderBook.ExecuteReply>runCommand(r -> new OrderBook.Execute(List.of(
        new BookOp.PostAsk(ask("ask_1", "prv_1", 100_000)),
        new BookOp.PlaceBid(bid("job_1", 120_000, now + 600_000)),
        new BookOp.PlaceBid(bid("job_2", 50_000, now + 600_000))), r));
    BookSnapshot snapshot = kit.getState().core().snapshot();
    new SerializationTestKit(testKit.system()).verifySerialization(snapshot, true);
  }

  private static Ask ask(String id, String provider, long price) {
    return new Ask(id, provider, "bert-large", USE_CASE, price, 75, 5_000, 4, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "us", Set.of("zdr"));
  }

  private static Bid bid(String id, long ceiling, long deadline) {
    return new Bid(id, USE_CASE, Set.of(), 50, ceiling, 20_000, deadline, deadline - 30_000, Set.of(), Set.of("zdr"), Set.of(), Set.of());
  }
}
