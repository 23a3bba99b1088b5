package io.keld.trade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigValueFactory;
import io.keld.testkit.ApiClient;
import io.keld.testkit.FeedClient;
import java.time.Duration;
import io.keld.marketplace.book.BookEvent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A connection's commands are started without waiting for earlier answers, yet take effect and are
 * answered in the order sent. The node keeps no open ask in memory here, so every amend first reads
 * its ask from the index on the blocking pool: the slow path, where reads finishing out of order
 * would hand the book the amends out of order if a command started before the one ahead of it had
 * reached the book.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TradeFeedOrderTest {

  private static final Duration WAIT = Duration.ofSeconds(30);

  private TradeNode.OnPostgres started;
  private TradeNode node;
  private ApiClient api;
  private String operator;

  @BeforeAll
  void start() {
    started = TradeNode.onPostgres(c -> c.withValue("keld.trade.open-ask-cache-for", ConfigValueFactory.fromAnyRef("0s")));
    node = started.node();
    api = started.api();
    operator = started.operator();
  }

  @AfterAll
  void stop() throws Exception {
    if (started != null) started.close();
  }

  @Test
  void amendsSentWithoutWaitingReachTheBookInOrderAndAreAnsweredInOrder() throws Exception {
    int amends = 150;
    String key = TradeNode.provider(api, operator, "Streaming Co", "stream-1", "code");
    try (FeedClient feed = new FeedClient(node, key, true)) {
      feed.next("welcome", WAIT);
      feed.send("{\"type\":\"subscribe\",\"id\":\"s\",\"use_cases\":[\"code\"]}");
      feed.next(m -> "s".equals(m.path("id").asText()), WAIT);
      feed.send("{\"type\":\"post_ask\",\"id\":\"post\",\"ask\":{\"model\":\"stream-1\",\"use_case\":\"code\",\"price_per_mtok\":1000000,"
          + "\"quality\":60,\"throughput_tps\":500}}");
      String askId = feed.next(m -> "post".equals(m.path("id").asText()), WAIT).path("result").path("ask").path("id").asText();
      // The post's ask_state comes too (before or after its ack).
      if (feed.taken().stream().noneMatch(m -> m.path("type").asText().equals("ask_state"))) feed.next("ask_state", WAIT);

      List<Long> amendedOnBook = Collections.synchronizedList(new ArrayList<>());
      node.bookListeners().add((useCase, events) -> {
        for (BookEvent e : events) if (e instanceof BookEvent.AskAmended a && a.askId().equals(askId)) amendedOnBook.add(a.pricePerMtok());
      });

      // Every amend raises the price; then one for an ask that does not exist and a second subscribe: all sent at once.
      for (int i = 1; i <= amends; i++) {
        feed.send("{\"type\":\"amend_ask\",\"id\":\"a" + i + "\",\"ask_id\":\"" + askId + "\",\"price_per_mtok\":" + (1_000_000 + i * 1_000) + "}");
      }
      feed.send("{\"type\":\"amend_ask\",\"id\":\"missing\",\"ask_id\":\"ask_nosuchask\",\"price_per_mtok\":5}");
      feed.send("{\"type\":\"subscribe\",\"id\":\"s2\",\"use_cases\":[\"code\"]}");
      feed.next(m -> "s2".equals(m.path("id").asText()), WAIT);
      long last = 1_000_000 + amends * 1_000;
      feed.next(m -> m.path("type").asText().startsWith("book_") && m.path("asks").toString().contains("\"price_per_mtok\":" + last), WAIT);
      feed.send("{\"type\":\"withdraw_ask\",\"id\":\"w\",\"ask_id\":\"" + askId + "\"}");
      feed.next(m -> "w".equals(m.path("id").asText()), WAIT);

      // The answers, in the order sent.
      List<String> answered = new ArrayList<>();
      for (JsonNode m : feed.taken()) {
        String type = m.path("type").asText();
        if ((type.equals("ack") || type.equals("error")) && m.path("id").asText().matches("a\\d+|missing|s2|w")) answered.add(m.path("id").asText());
      }
      List<String> sent = new ArrayList<>();
      for (int i = 1; i <= amends; i++) sent.add("a" + i);
      sent.addAll(List.of("missing", "s2", "w"));
      assertEquals(sent, answered);
      for (JsonNode m : feed.taken()) {
        if (m.path("id").asText().matches("a\\d+")) assertEquals("ack", m.path("type").asText(), m.toString());
      }
      assertEquals(404, feed.taken().stream().filter(m -> "missing".equals(m.path("id").asText())).findFirst().orElseThrow().path("status").asInt());

      // The book took them in the order sent: its journal has every amend, each one's price above the one before.
      List<Long> expectedOnBook = new ArrayList<>();
      for (int i = 1; i <= amends; i++) expectedOnBook.add(1_000_000L + i * 1_000);
      assertEquals(expectedOnBook, List.copyOf(amendedOnBook));

      // The deltas and snapshots followed: the ask (alone on its book) only ever moves up in the deltas and snapshots.
      long lastSeen = 0;
      for (JsonNode m : feed.taken()) {
        if (!m.path("type").asText().startsWith("book_")) continue;
        for (JsonNode level : m.path("asks")) {
          long price = level.path("price_per_mtok").asLong();
          assertTrue(price >= lastSeen, "the ask's price went back from " + lastSeen + " to " + price + ": " + m);
          lastSeen = price;
        }
      }
      assertEquals(last, lastSeen, "the deltas end at the last amend's price");
      JsonNode stored = api.expect(200, "GET", "/trade/v1/asks/" + askId, key, null).json();
      assertEquals(last, stored.path("price_per_mtok").asLong(), "the index has the last price");
      assertEquals("withdrawn", stored.path("state").asText());

      long expected = 1;
      for (JsonNode m : feed.taken()) assertEquals(expected++, m.path("seq").asLong(), "no gap or repeat in the sequence");
    }
  }

  @Test
  void aWithdrawalSentRightAfterAmendsIsWrittenAfterThem() throws Exception {
    String key = TradeNode.provider(api, operator, "Hasty Co", "hasty-1", "extract");
    try (FeedClient feed = new FeedClient(node, key, true)) {
      feed.next("welcome", WAIT);
      feed.send("{\"type\":\"post_ask\",\"id\":\"post\",\"ask\":{\"model\":\"hasty-1\",\"use_case\":\"extract\",\"price_per_mtok\":2000000,"
          + "\"quality\":60,\"throughput_tps\":500}}");
      String askId = feed.next(m -> "post".equals(m.path("id").asText()), WAIT).path("result").path("ask").path("id").asText();
      for (int i = 1; i <= 20; i++) {
        feed.send("{\"type\":\"amend_ask\",\"id\":\"a" + i + "\",\"ask_id\":\"" + askId + "\",\"price_per_mtok\":" + (2_000_000 + i * 1_000) + "}");
      }
      feed.send("{\"type\":\"withdraw_ask\",\"id\":\"w\",\"ask_id\":\"" + askId + "\"}");
      JsonNode withdrawn = feed.next(m -> "w".equals(m.path("id").asText()), WAIT);
      assertEquals("ack", withdrawn.path("type").asText(), withdrawn.toString());
      assertEquals("withdrawn", withdrawn.path("result").path("ask").path("state").asText());
      assertEquals(2_020_000, withdrawn.path("result").path("ask").path("price_per_mtok").asLong(), "the last amend was written before the withdrawal");
      JsonNode stored = api.expect(200, "GET", "/trade/v1/asks/" + askId, key, null).json();
      assertEquals("withdrawn", stored.path("state").asText());
      assertEquals(2_020_000, stored.path("price_per_mtok").asLong(), "the index keeps the last amend's price");
      for (JsonNode m : feed.taken()) {
        if (m.path("id").asText().matches("a\\d+")) assertEquals("ack", m.path("type").asText(), m.toString());
      }
      // The provider hears of the withdrawal after every open state of the ask.
      Predicate<JsonNode> withdrawnState = m -> m.path("type").asText().equals("ask_state") && m.path("ask").path("state").asText().equals("withdrawn");
      if (feed.taken().stream().noneMatch(withdrawnState)) feed.next(withdrawnState, WAIT);
      List<JsonNode> states = feed.taken().stream().filter(m -> m.path("type").asText().equals("ask_state")).toList();
      int firstWithdrawn = 0;
      while (!states.get(firstWithdrawn).path("ask").path("state").asText().equals("withdrawn")) firstWithdrawn++;
      for (JsonNode later : states.subList(firstWithdrawn, states.size())) assertEquals("withdrawn", later.path("ask").path("state").asText(), states.toString());
    }
  }
}
