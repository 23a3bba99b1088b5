package io.keld.trade.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.keld.kit.ProblemException;
import io.keld.ixp.auth.Role;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.trade.asks.AskView;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** What Keld sends on the feed, byte for byte as a connection renders it: seq and type first, then the members in the spec's order. */
class FeedMessageTest {

  private static final AskView ASK = new AskView("ask_7c2f9h4k8m3p6r1t", "summarize", "feed-7b", 410_000, 70, 8_000, 8, "any", false, "open",
      Instant.parse("2025-06-14T09:30:10.412Z"), Instant.parse("2025-06-14T09:30:10.412Z"));
  private static final String ASK_JSON = "{\"id\":\"ask_7c2f9h4k8m3p6r1t\",\"use_case\":\"summarize\",\"model\":\"feed-7b\",\"price_per_mtok\":410000,"
      + "\"quality\":70,\"throughput_tps\":8000,\"max_concurrency\":8,\"region\":\"any\",\"cancel_on_disconnect\":false,\"state\":\"open\","
      + "\"created_at\":\"2025-06-14T09:30:10.412Z\",\"updated_at\":\"2025-06-14T09:30:10.412Z\"}";
  private static final BookView VIEW = new BookView("summarize", 1_750_000_000_000L,
      List.of(new BookView.PriceLevel(390_000, 2, 12_000, 8_000)), List.of(new BookView.DemandLevel(500_000, 1, 20_000, 1_750_000_600_000L)));
  private static final String LEVELS = "\"asks\":[{\"price_per_mtok\":390000,\"ask_count\":2,\"throughput_tps\":12000,\"available_throughput_tps\":8000}]";
  private static final String DEMAND = "\"resting_demand\":[{\"ceiling_per_mtok\":500000,\"bid_count\":1,\"tokens\":20000,\"earliest_deadline_millis\":1750000600000}]";

  @Test
  void welcome() {
    assertEquals("{\"seq\":1,\"type\":\"welcome\",\"org_id\":\"org_4k8m2p6r9t3v7x1z\",\"heartbeat_ms\":15000,\"buffer\":1024}",
        rendered(new FeedMessage.Welcome("org_4k8m2p6r9t3v7x1z", 15_000, 1024), 1));
  }

  @Test
  void acksCarryTheIdWhenTheCommandHadOneAndTheResultOfEachKindOfCommand() {
    assertEquals("{\"seq\":5,\"type\":\"ack\",\"id\":\"c1\",\"result\":{\"ask\":" + ASK_JSON + "}}",
        rendered(new FeedMessage.Ack("c1", new FeedMessage.AskResult(ASK)), 5));
    assertEquals("{\"seq\":2,\"type\":\"ack\",\"result\":{\"subscribed\":[\"summarize\",\"chat\"]}}",
        rendered(new FeedMessage.Ack(null, new FeedMessage.Subscribed(List.of("summarize", "chat"))), 2));
    assertEquals("{\"seq\":13,\"type\":\"ack\",\"id\":\"c3\",\"result\":{\"tokens_per_second\":4000,\"max_concurrency\":4,\"ask_ids\":[\"ask_1\"]}}",
        rendered(new FeedMessage.Ack("c3", new FeedMessage.CapacityApplied(4_000, 4, null, List.of("ask_1"))), 13));
    assertEquals("{\"seq\":14,\"type\":\"ack\",\"id\":\"c5\",\"result\":{\"tokens_per_second\":0,\"max_concurrency\":0,\"endpoint_id\":\"end_1\",\"ask_ids\":[]}}",
        rendered(new FeedMessage.Ack("c5", new FeedMessage.CapacityApplied(0, 0, "end_1", List.of())), 14));
  }

  @Test
  void errorsLeaveOutTheIdAndFieldTheyDoNotHave() {
    assertEquals("{\"seq\":3,\"type\":\"error\",\"id\":\"e3\",\"status\":422,\"code\":\"invalid-field\",\"message\":\"'price_per_mtok' has the wrong type or is missing\","
        + "\"field\":\"price_per_mtok\"}",
        rendered(new FeedMessage.Error("e3", 422, "invalid-field", "'price_per_mtok' has the wrong type or is missing", "price_per_mtok"), 3));
    assertEquals("{\"seq\":2,\"type\":\"error\",\"status\":400,\"code\":\"bad-request\",\"message\":\"the message is not valid JSON\"}",
        rendered(new FeedMessage.Error(null, 400, "bad-request", "the message is not valid JSON", null), 2));
  }

  @Test
  void anErrorAnswersWithTheProblemsStatusSlugDetailAndField() {
    ProblemException refused = assertThrows(ProblemException.class, () -> IncomingMessage.read("{\"type\":\"teleport\"}").command(Role.PROVIDER));
    assertEquals(new FeedMessage.Error("e1", 422, "invalid-field",
        "unknown message type 'teleport'; known: post_ask, amend_ask, withdraw_ask, capacity, subscribe, unsubscribe", "type"),
        FeedRoute.error("e1", new CompletionException(refused)));
    FeedMessage.Error internal = FeedRoute.error(null, new IllegalStateException("a bug"));
    assertEquals(new FeedMessage.Error(null, 500, "internal", "the message could not be handled", null), internal);
  }

  @Test
  void aHeartbeatsTimeIsTheInstantAsItPrints() {
    for (Instant at : List.of(Instant.parse("2025-06-14T09:30:12Z"), Instant.parse("2025-06-14T09:30:12.345Z"),
        Instant.parse("2025-06-14T09:30:12.345678901Z"))) {
      assertEquals("{\"seq\":9,\"type\":\"heartbeat\",\"at\":\"" + at + "\"}", rendered(new FeedMessage.Heartbeat(at), 9));
    }
  }

  @Test
  void closing() {
    assertEquals("{\"seq\":40,\"type\":\"closing\",\"reason\":\"slow_consumer\",\"message\":\"read faster\"}",
        rendered(new FeedMessage.Closing("slow_consumer", "read faster"), 40));
  }

  @Test
  void booksGoOutAsSnapshotsThenDeltasOfTheLevelsThatChanged() {
    assertEquals("{\"seq\":3,\"type\":\"book_snapshot\",\"use_case\":\"summarize\",\"at_millis\":1750000000000," + LEVELS + "," + DEMAND + "}",
        rendered(FeedMessage.BookSnapshot.of(VIEW), 3));
    assertEquals("{\"seq\":4,\"type\":\"book_delta\",\"use_case\":\"summarize\",\"at_millis\":1750000000000," + LEVELS + ",\"removed_prices\":[]," + DEMAND + "}",
        rendered(BookFeedPublisher.delta(null, VIEW), 4));
    BookView moved = new BookView("summarize", 1_750_000_000_500L, List.of(new BookView.PriceLevel(380_000, 1, 4_000, 4_000),
        new BookView.PriceLevel(390_000, 2, 12_000, 8_000)), List.of());
    assertEquals("{\"seq\":5,\"type\":\"book_delta\",\"use_case\":\"summarize\",\"at_millis\":1750000000500,"
        + "\"asks\":[{\"price_per_mtok\":380000,\"ask_count\":1,\"throughput_tps\":4000,\"available_throughput_tps\":4000}],"
        + "\"removed_prices\":[],\"resting_demand\":[]}", rendered(BookFeedPublisher.delta(VIEW, moved), 5));
    BookView emptied = new BookView("summarize", 1_750_000_001_000L, List.of(), List.of());
    assertEquals("{\"seq\":6,\"type\":\"book_delta\",\"use_case\":\"summarize\",\"at_millis\":1750000001000,\"asks\":[],\"removed_prices\":[380000,390000],"
        + "\"resting_demand\":[]}", rendered(BookFeedPublisher.delta(moved, emptied), 6));
    assertNull(BookFeedPublisher.delta(emptied, new BookView("summarize", 1_750_000_002_000L, List.of(), List.of())), "nothing changed, nothing sent");
  }

  @Test
  void aFillNamesNoBidJobOrEnterprise() {
    Fill fill = new Fill("fil_summarize_1", "bid_secret", "ask_1", "org_p", "feed-7b", 390_000, 20_000, 1_000, 3_500, 600_000, 900, 410_000L, 2, "1");
    assertEquals("{\"seq\":7,\"type\":\"fill\",\"fill\":{\"fill_id\":\"fil_summarize_1\",\"ask_id\":\"ask_1\",\"use_case\":\"summarize\",\"model\":\"feed-7b\","
        + "\"price_per_mtok\":390000,\"tokens\":20000,\"start_millis\":1000,\"finish_millis\":3500,\"deadline_millis\":600000,\"filled_at_millis\":900}}",
        rendered(new FeedMessage.FillMessage(FeedMessage.ProviderFill.of("summarize", fill)), 7));
  }

  @Test
  void askState() {
    assertEquals("{\"seq\":8,\"type\":\"ask_state\",\"ask\":" + ASK_JSON + "}", rendered(new FeedMessage.AskState(ASK), 8));
  }

  private static String rendered(FeedMessage message, long seq) {
    return FeedEvent.of(message, null, 0).render(seq);
  }
}
