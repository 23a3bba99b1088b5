package io.keld.trade;

import io.keld.kit.Json;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.marketplace.clearing.FillReceipts;
import io.keld.marketplace.clearing.Pseudonyms;
import io.keld.marketplace.clearing.ReceiptKeys;
import io.keld.marketplace.clearing.ReceiptSigner;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.Map;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigValueFactory;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.testkit.ApiClient;
import io.keld.testkit.FeedClient;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.slf4j.LoggerFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** The providers' WebSocket feed, with the JDK's WebSocket client against Trade as a node runs it, on PostgreSQL. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TradeFeedTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private TradeNode.OnPostgres started;
  private TradeNode node;
  private ApiClient api;
  private String operator;
  private ReceiptSigner receiptKeys;

  @BeforeAll
  void start() {
    started = TradeNode.onPostgres(c -> c
        .withValue("keld.trade.feed.buffer", ConfigValueFactory.fromAnyRef(32))
        .withValue("keld.trade.feed.in-flight", ConfigValueFactory.fromAnyRef(8))
        .withValue("keld.trade.feed.close-grace", ConfigValueFactory.fromAnyRef("2s")));
    node = started.node();
    KeyPair pair = ReceiptSigner.generateKeyPair();
    receiptKeys = new ReceiptSigner("rk_test", pair.getPrivate(), pair.getPublic());
    node.trade().issueReceiptsWith(new FillReceipts(receiptKeys, new Pseudonyms("trade feed test secret 32 bytes!".getBytes(StandardCharsets.UTF_8))));
    api = started.api();
    operator = started.operator();
  }

  @AfterAll
  void stop() throws Exception {
    if (started != null) started.close();
  }

  @Test
  void aProviderPostsAnAskSeesItInTheBookMovesItAndReceivesItsFillWithAnAckForEveryCommand() throws Exception {
    String key = provider("Feed Co", "feed-7b", "summarize", "chat");
    try (FeedClient feed = new FeedClient(node, key, true)) {
      JsonNode welcome = feed.next("welcome", WAIT);
      assertEquals(1, welcome.path("seq").asLong());

      feed.send("{\"type\":\"subscribe\",\"id\":\"s1\",\"use_cases\":[\"summarize\"]}");
      assertEquals("s1", feed.next("ack", WAIT).path("id").asText());
      feed.next("book_snapshot", WAIT);

      feed.send("{\"type\":\"post_ask\",\"id\":\"c1\",\"ask\":{\"model\":\"feed-7b\",\"use_case\":\"summarize\",\"price_per_mtok\":410000,"
          + "\"quality\":70,\"throughput_tps\":8000,\"max_concurrency\":8}}");
      JsonNode posted = feed.next(m -> "c1".equals(m.path("id").asText()), WAIT);
      assertEquals("ack", posted.path("type").asText(), posted.toString());
      String askId = posted.path("result").path("ask").path("id").asText();
      // A change to a quiet book goes out at once: its delta may come before the ack.
      JsonNode delta = seenOrNext(feed, m -> m.path("type").asText().equals("book_delta") && hasLevel(m, 410_000));
      assertEquals("summarize", delta.path("use_case").asText());

      feed.send("{\"type\":\"amend_ask\",\"id\":\"c2\",\"ask_id\":\"" + askId + "\",\"price_per_mtok\":390000}");
      assertEquals("ack", feed.next(m -> "c2".equals(m.path("id").asText()), WAIT).path("type").asText());
      // The delta may come before or after the ack: look among what was read while waiting for the ack, then further.
      JsonNode moved = seenOrNext(feed, m -> m.path("type").asText().equals("book_delta") && hasLevel(m, 390_000));
      assertTrue(moved.path("removed_prices").toString().contains("410000"), moved.toString());
      // The provider's own ask states come too: usually before the ack of the command that changed it, but
      // the state travels through the organization's topic and the ack does not, so the spec does not promise that order.
      seenOrNext(feed, m -> m.path("type").asText().equals("ask_state") && m.path("ask").path("id").asText().equals(askId)
          && m.path("ask").path("price_per_mtok").asLong() == 390_000);

      // An enterprise's job clears against the ask: the provider hears of its fill, and of nobody's identity.
      long now = System.currentTimeMillis();
      BookResult placed = node.books().submit("summarize", new BookOp.PlaceBid(new Bid("bid_feedtest", "summarize", Set.of(), 50, 500_000, 20_000,
          now + 600_000, now + 300_000, Set.of(), Set.of(), Set.of(), Set.of()))).toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertInstanceOf(BookResult.Accepted.class, placed);
      JsonNode fill = feed.next("fill", WAIT);
      assertEquals(askId, fill.path("fill").path("ask_id").asText());
      assertEquals(390_000, fill.path("fill").path("price_per_mtok").asLong());
      assertFalse(fill.toString().contains("bid_feedtest"), "no job identity in a provider's fill");
      // Its receipt: signed with the node's key, naming the parties by pseudonym, for the Filled event's seq.
      JsonNode receipt = fill.path("fill").path("receipt");
      assertEquals("summarize", receipt.path("book").asText(), fill.toString());
      assertTrue(receipt.path("seq").asLong() > 0, fill.toString());
      assertEquals(390_000, receipt.path("price_per_mtok").asLong());
      assertTrue(receipt.path("provider_id").asText().startsWith("anon_prv_"), receipt.toString());
      FillReceipt parsed = Json.WIRE.treeToValue(receipt, FillReceipt.class);
      assertNull(new ReceiptKeys(Map.of(receiptKeys.keyId(), receiptKeys.publicKey())).check(parsed), "the receipt's signature holds");

      // The job used 15,000 of the 20,000 tokens: the statement shows the fill, the tokens served and the revenue.
      node.books().submit("summarize", new BookOp.ReleaseFill(fill.path("fill").path("fill_id").asText(), 15_000, false))
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      JsonNode line = null;
      long end = System.nanoTime() + WAIT.toNanos();
      while (System.nanoTime() < end) {
        JsonNode lines = api.expect(200, "GET", "/trade/v1/statement", key, null).json().path("lines");
        if (lines.size() == 1 && lines.get(0).path("tokens_served").asLong() == 15_000) {
          line = lines.get(0);
          break;
        }
        Thread.sleep(50);
      }
      assertNotNull(line, "the statement shows the served fill");
      assertEquals("feed-7b", line.path("model").asText());
      assertEquals("summarize", line.path("use_case").asText());
      assertEquals(1, line.path("fills").asLong());
      assertEquals(20_000, line.path("tokens_filled").asLong());
      assertEquals(5_850, line.path("revenue_micro_usd").asLong(), "15,000 tokens at $0.39/Mtok");
      assertTrue(line.path("utilization").asDouble() > 0 && line.path("utilization").asDouble() <= 1);
      api.expect(422, "GET", "/trade/v1/statement?from=yesterday", key, null);

      // Live capacity reaches the book (the ask's throughput) and Flow (the endpoint's pacing limits).
      String endpointId = api.expect(201, "POST", "/trade/v1/endpoints", key,
          "{\"name\":\"fleet\",\"base_url\":\"http://127.0.0.1:9/v1\",\"credential\":\"sk-fleet\"}").id();
      feed.send("{\"type\":\"capacity\",\"id\":\"c3\",\"endpoint_id\":\"" + endpointId + "\",\"ask_ids\":[\"" + askId
          + "\"],\"tokens_per_second\":4000,\"max_concurrency\":4}");
      assertEquals("ack", feed.next(m -> "c3".equals(m.path("id").asText()), WAIT).path("type").asText());
      var lane = node.flow().snapshot(endpointId).orElseThrow(() -> new AssertionError("Flow does not know the endpoint"));
      long until = System.nanoTime() + WAIT.toNanos();
      while ((lane.limit() != 4 || lane.tokensPerSecond() != 4000) && System.nanoTime() < until) {
        Thread.sleep(20);
        lane = node.flow().snapshot(endpointId).orElseThrow();
      }
      assertEquals(4, lane.limit(), "Flow paces the endpoint at its stated concurrency");
      assertEquals(4000, lane.tokensPerSecond());
      JsonNode level = api.expect(200, "GET", "/trade/v1/books/summarize", key, null).json().path("asks").get(0);
      assertEquals(4000, level.path("throughput_tps").asLong(), "the book schedules the ask at its live throughput");
      feed.send("{\"type\":\"withdraw_ask\",\"id\":\"c4\",\"ask_id\":\"" + askId + "\"}");
      assertEquals("withdrawn", feed.next(m -> "c4".equals(m.path("id").asText()), WAIT).path("result").path("ask").path("state").asText());

      // Every message carries the next sequence number: no gaps, no repeats.
      long expected = 1;
      for (JsonNode m : feed.taken()) assertEquals(expected++, m.path("seq").asLong(), feed.taken().toString());
    }
  }

  @Test
  void badMessagesAreAnsweredWithAnErrorChangeNothingAndLeaveTheSocketOpen() throws Exception {
    String key = provider("Careful Co", "careful-1", "chat");
    String other = provider("Other Co", "other-1", "chat");
    String othersAsk = api.expect(201, "POST", "/trade/v1/asks", other,
        "{\"model\":\"other-1\",\"use_case\":\"chat\",\"price_per_mtok\":700000,\"throughput_tps\":100}").id();
    // A plain request to the feed is refused as a problem, and sets nothing up.
    ApiClient.Response plain = api.expect(400, "GET", "/trade/v1/feed", key, null);
    assertTrue(plain.contentType().startsWith("application/problem+json"), plain.contentType());
    assertEquals(0, node.trade().feed().connections(orgOf(key)));
    try (FeedClient feed = new FeedClient(node, key, true)) {
      feed.next("welcome", WAIT);
      feed.send("{not json");
      assertEquals(400, feed.next("error", WAIT).path("status").asInt());
      feed.sendBinary(new byte[] {1, 2, 3});
      JsonNode binary = feed.next("error", WAIT);
      assertEquals(400, binary.path("status").asInt(), "a binary message is answered, not dropped: " + binary);
      assertTrue(binary.path("message").asText().contains("binary"), binary.toString());
      feed.send("{\"type\":\"teleport\",\"id\":\"e1\"}");
      JsonNode unknown = feed.next("error", WAIT);
      assertEquals("e1", unknown.path("id").asText());
      assertEquals("type", unknown.path("field").asText());
      feed.send("{\"type\":\"post_ask\",\"id\":\"e2\",\"ask\":{\"model\":\"careful-1\",\"use_case\":\"embed\",\"price_per_mtok\":1,\"throughput_tps\":1}}");
      JsonNode wrongUseCase = feed.next("error", WAIT);
      assertEquals("use_case", wrongUseCase.path("field").asText(), wrongUseCase.toString());
      feed.send("{\"type\":\"post_ask\",\"id\":\"e3\",\"ask\":{\"model\":\"careful-1\",\"use_case\":\"chat\",\"price_per_mtok\":\"free\",\"throughput_tps\":1}}");
      assertEquals("price_per_mtok", feed.next("error", WAIT).path("field").asText());
      feed.send("{\"type\":\"amend_ask\",\"id\":\"e4\",\"ask_id\":\"" + othersAsk + "\",\"price_per_mtok\":1}");
      assertEquals(404, feed.next("error", WAIT).path("status").asInt());
      feed.send("{\"type\":\"withdraw_ask\",\"id\":\"e5\",\"ask_id\":\"" + othersAsk + "\"}");
      assertEquals(404, feed.next("error", WAIT).path("status").asInt());
      feed.send("{\"type\":\"subscribe\",\"id\":\"e6\",\"use_cases\":[\"astrology\"]}");
      assertEquals("use_cases", feed.next("error", WAIT).path("field").asText());

      feed.send("{\"type\":\"subscribe\",\"id\":\"ok\",\"use_cases\":[\"chat\"]}");
      assertEquals("ok", feed.next("ack", WAIT).path("id").asText(), "the socket is still open and working");
    }
    String readOnly = api.expect(201, "POST", "/atlas/v1/orgs/" + orgOf(key) + "/keys", operator, "{\"name\":\"ro\",\"role\":\"read-only\"}")
        .json().path("key").asText();
    try (FeedClient watcher = new FeedClient(node, readOnly, true)) {
      watcher.next("welcome", WAIT);
      watcher.send("{\"type\":\"post_ask\",\"id\":\"ro\",\"ask\":{\"model\":\"careful-1\",\"use_case\":\"chat\",\"price_per_mtok\":5,\"throughput_tps\":1}}");
      assertEquals(403, watcher.next("error", WAIT).path("status").asInt(), "a read-only key watches, it does not trade");
      watcher.send("{\"type\":\"subscribe\",\"id\":\"w\",\"use_cases\":[\"chat\"]}");
      assertEquals("w", watcher.next("ack", WAIT).path("id").asText());
    }
    assertEquals(0, api.expect(200, "GET", "/trade/v1/asks", key, null).json().path("data").size(), "nothing was posted");
    JsonNode still = api.expect(200, "GET", "/trade/v1/asks", other, null).json().path("data").get(0);
    assertEquals("open", still.path("state").asText());
    assertEquals(700_000, still.path("price_per_mtok").asLong(), "the other provider's ask is untouched");
  }

  @Test
  void cancelOnDisconnectWithdrawsTheMarkedAsksAndOnlyThose() throws Exception {
    String key = provider("Flaky Co", "flaky-2", "classify");
    String bystander = provider("Steady Co", "steady-2", "classify");
    String bystanderAsk = api.expect(201, "POST", "/trade/v1/asks", bystander,
        "{\"model\":\"steady-2\",\"use_case\":\"classify\",\"price_per_mtok\":120000,\"throughput_tps\":100,\"cancel_on_disconnect\":true}").id();
    String kept;
    String cancelled;
    FeedClient feed = new FeedClient(node, key, true);
    feed.next("welcome", WAIT);
    feed.send("{\"type\":\"post_ask\",\"id\":\"k\",\"ask\":{\"model\":\"flaky-2\",\"use_case\":\"classify\",\"price_per_mtok\":100000,\"throughput_tps\":100}}");
    kept = feed.next(m -> "k".equals(m.path("id").asText()), WAIT).path("result").path("ask").path("id").asText();
    feed.send("{\"type\":\"post_ask\",\"id\":\"x\",\"ask\":{\"model\":\"flaky-2\",\"use_case\":\"classify\",\"price_per_mtok\":110000,"
        + "\"throughput_tps\":100,\"cancel_on_disconnect\":true}}");
    cancelled = feed.next(m -> "x".equals(m.path("id").asText()), WAIT).path("result").path("ask").path("id").asText();
    feed.abort(); // the connection drops, no goodbye

    long end = System.nanoTime() + WAIT.toNanos();
    while (!"withdrawn".equals(state(key, cancelled)) && System.nanoTime() < end) Thread.sleep(50);
    assertEquals("withdrawn", state(key, cancelled));
    assertEquals("open", state(key, kept));
    assertEquals("open", state(bystander, bystanderAsk), "another provider's asks are not touched");
  }

  @Test
  void aProviderThatStopsReadingIsDisconnectedWhileAnotherKeepsGettingItsDeltas() throws Exception {
    Logger feedLog = (Logger) LoggerFactory.getLogger("io.keld.trade.feed.FeedSession");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    feedLog.addAppender(logs);
    String slowKey = provider("Slow Co", "slow-3", "extract");
    String fastKey = provider("Fast Co", "fast-3", "extract");
    // A deep book, so each snapshot is large and a non-reading client's socket fills quickly.
    for (int i = 0; i < 150; i++) {
      api.expect(201, "POST", "/trade/v1/asks", fastKey, "{\"model\":\"fast-3\",\"use_case\":\"extract\",\"price_per_mtok\":" + (200_000 + i * 1_000)
          + ",\"throughput_tps\":100}");
    }
    try (FeedClient fast = new FeedClient(node, fastKey, true); FeedClient slow = new FeedClient(node, slowKey, false)) {
      fast.next("welcome", WAIT);
      fast.send("{\"type\":\"subscribe\",\"id\":\"f\",\"use_cases\":[\"extract\"]}");
      fast.next("book_snapshot", WAIT);
      for (int i = 0; i < 1000; i++) slow.send("{\"type\":\"subscribe\",\"id\":\"s" + i + "\",\"use_cases\":[\"extract\"]}");

      // The fast provider's deltas keep coming while the slow one is being cut off.
      String askId = api.expect(201, "POST", "/trade/v1/asks", fastKey,
          "{\"model\":\"fast-3\",\"use_case\":\"extract\",\"price_per_mtok\":150000,\"throughput_tps\":100}").id();
      long sent = System.nanoTime();
      fast.next(m -> m.path("type").asText().equals("book_delta") && hasLevel(m, 150_000), WAIT);
      assertTrue(System.nanoTime() - sent < Duration.ofSeconds(2).toNanos(), "the delta arrived in time");

      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (node.trade().feed().connections(orgOf(slowKey)) > 0 && System.nanoTime() < end) Thread.sleep(50);
      assertEquals(0, node.trade().feed().connections(orgOf(slowKey)), "the slow consumer was disconnected");
      assertTrue(logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("slow consumer")), "the reason is logged");
      slow.resume();
      assertNotNull(slow.closed().get(10, TimeUnit.SECONDS), "the slow client sees its connection end");

      api.expect(200, "PATCH", "/trade/v1/asks/" + askId, fastKey, "{\"price_per_mtok\":140000}");
      fast.next(m -> m.path("type").asText().equals("book_delta") && hasLevel(m, 140_000), WAIT);
    } finally {
      feedLog.detachAppender(logs);
    }
  }

  /**
   * Amends from several providers and connections at once are written to the providers' index in
   * shared batches: every command is acknowledged with the ask as that command left it, and at the
   * end the index, the book and the last ask_state agree on every ask's last price and quality.
   */
  @Test
  void concurrentAmendsFromManyConnectionsLeaveTheIndexTheBookAndTheAskStatesAgreeing() throws Exception {
    int providers = 3;
    int asksEach = 2;
    int amendsPerAsk = 40;
    List<FeedClient> feeds = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    Map<String, Integer> owner = new LinkedHashMap<>(); // ask -> provider index
    try {
      for (int p = 0; p < providers; p++) {
        String key = provider("Busy Co " + p, "busy-" + p, "translate");
        keys.add(key);
        FeedClient feed = new FeedClient(node, key, true);
        feeds.add(feed);
        feed.next("welcome", WAIT);
        for (int a = 0; a < asksEach; a++) {
          feed.send("{\"type\":\"post_ask\",\"id\":\"post" + a + "\",\"ask\":{\"model\":\"busy-" + p + "\",\"use_case\":\"translate\","
              + "\"price_per_mtok\":" + (5_000_000 + p * 100 + a) + ",\"quality\":50,\"throughput_tps\":100}}");
          String id = "post" + a;
          owner.put(feed.next(m -> id.equals(m.path("id").asText()), WAIT).path("result").path("ask").path("id").asText(), p);
        }
      }
      // Every connection sends all its amends without waiting: prices on even steps, quality on odd ones.
      Map<String, long[]> last = new HashMap<>(); // ask -> {price, quality}
      for (int step = 0; step < amendsPerAsk; step++) {
        for (var e : owner.entrySet()) {
          String askId = e.getKey();
          long[] terms = last.computeIfAbsent(askId, k -> new long[] {0, 50});
          String change;
          if (step % 2 == 0) {
            terms[0] = 6_000_000 + step * 1_000 + (askId.hashCode() & 0x3ff);
            change = "\"price_per_mtok\":" + terms[0];
          } else {
            terms[1] = 51 + step % 40;
            change = "\"quality\":" + terms[1];
          }
          feeds.get(e.getValue()).send("{\"type\":\"amend_ask\",\"id\":\"" + askId + "-" + step + "\",\"ask_id\":\"" + askId + "\"," + change + "}");
        }
      }
      for (var e : owner.entrySet()) {
        String askId = e.getKey();
        String lastId = askId + "-" + (amendsPerAsk - 1);
        JsonNode ack = feeds.get(e.getValue()).next(m -> lastId.equals(m.path("id").asText()), Duration.ofSeconds(30));
        assertEquals("ack", ack.path("type").asText(), ack.toString());
        JsonNode acked = ack.path("result").path("ask");
        assertEquals(last.get(askId)[0], acked.path("price_per_mtok").asLong(), "the last ack shows the last price");
        assertEquals(last.get(askId)[1], acked.path("quality").asLong(), "and the last quality");
      }
      for (FeedClient feed : feeds) {
        assertTrue(feed.taken().stream().noneMatch(m -> m.path("type").asText().equals("error")), feed.taken().toString());
      }
      JsonNode book = api.expect(200, "GET", "/trade/v1/books/translate", keys.get(0), null).json();
      for (var e : owner.entrySet()) {
        String askId = e.getKey();
        long[] terms = last.get(askId);
        JsonNode stored = null;
        for (JsonNode a : api.expect(200, "GET", "/trade/v1/asks", keys.get(e.getValue()), null).json().path("data")) {
          if (a.path("id").asText().equals(askId)) stored = a;
        }
        assertNotNull(stored, askId);
        assertEquals(terms[0], stored.path("price_per_mtok").asLong(), "the index has the last price of " + askId);
        assertEquals(terms[1], stored.path("quality").asLong(), "the index has the last quality of " + askId);
        boolean onBook = false;
        for (JsonNode level : book.path("asks")) onBook |= level.path("price_per_mtok").asLong() == terms[0];
        assertTrue(onBook, "the book has " + askId + " at its last price: " + book);
        // The ask's state travels through the organization's topic and may come after the last ack: wait for it.
        FeedClient feed = feeds.get(e.getValue());
        seenOrNext(feed, m -> m.path("type").asText().equals("ask_state") && m.path("ask").path("id").asText().equals(askId)
            && m.path("ask").path("price_per_mtok").asLong() == terms[0] && m.path("ask").path("quality").asLong() == terms[1]);
        JsonNode lastState = null;
        for (JsonNode m : feed.taken()) {
          if (m.path("type").asText().equals("ask_state") && m.path("ask").path("id").asText().equals(askId)) lastState = m;
        }
        assertEquals(terms[0], lastState.path("ask").path("price_per_mtok").asLong(), "the last ask_state has the last price");
        assertEquals(terms[1], lastState.path("ask").path("quality").asLong(), "and the last quality");
      }
    } finally {
      for (FeedClient feed : feeds) feed.close();
    }
  }

  /** The first message already read that matches, else the next one to arrive. */
  private static JsonNode seenOrNext(FeedClient feed, Predicate<JsonNode> test) throws InterruptedException {
    JsonNode seen = feed.taken().stream().filter(test).findFirst().orElse(null);
    return seen != null ? seen : feed.next(test, WAIT);
  }

  private String state(String key, String askId) {
    for (JsonNode a : api.expect(200, "GET", "/trade/v1/asks", key, null).json().path("data")) {
      if (a.path("id").asText().equals(askId)) return a.path("state").asText();
    }
    return null;
  }

  private static boolean hasLevel(JsonNode delta, long price) {
    for (JsonNode level : delta.path("asks")) if (level.path("price_per_mtok").asLong() == price) return true;
    return false;
  }

  /** A provider organization with a provider key, serving {@code model} for the use cases. */
  private String provider(String name, String model, String... useCases) {
    return TradeNode.provider(api, operator, name, model, useCases);
  }

  private String orgOf(String key) {
    return api.expect(200, "GET", "/atlas/v1/me", key, null).json().path("org_id").asText();
  }
}
