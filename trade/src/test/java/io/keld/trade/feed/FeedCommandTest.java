package io.keld.trade.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.keld.kit.JsonBodies;
import io.keld.kit.ProblemException;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.Problem;
import io.keld.trade.asks.AskTerms;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The feed's incoming messages: what each decodes to, and the error each kind of bad message gets (the wire contract of the AsyncAPI spec). */
class FeedCommandTest {

  private static final String FULL_ASK = "{\"model\":\"feed-7b\",\"use_case\":\"summarize\",\"price_per_mtok\":350000,\"quality\":70,"
      + "\"throughput_tps\":4000,\"max_concurrency\":4,\"region\":\"eu-west\",\"compliance_tags\":[\"gdpr\"],"
      + "\"window_from\":\"2025-06-14T18:00:00Z\",\"window_until\":\"2025-06-15T06:00:00Z\",\"cancel_on_disconnect\":true}";
  private static final String CATALOG_ERROR = "unknown message type '%s'; known: post_ask, amend_ask, withdraw_ask, capacity, subscribe, unsubscribe";

  static Stream<FeedCommand> everyType() {
    return Stream.of(
        new FeedCommand.PostAsk(new AskTerms("feed-7b", "summarize", 350_000L, 70, 4_000L, 4, "eu-west", List.of("gdpr"),
            Instant.parse("2025-06-14T18:00:00Z"), Instant.parse("2025-06-15T06:00:00Z"), true)),
        new FeedCommand.PostAsk(new AskTerms("feed-7b", "summarize", 410_000L, null, 8_000L, null, null, null, null, null, null)),
        new FeedCommand.AmendAsk("ask_7c2f9h4k8m3p6r1t", 390_000L, null, null, null, null),
        new FeedCommand.AmendAsk("ask_7c2f9h4k8m3p6r1t", 1L, 0, 5L, Instant.parse("2025-06-14T18:00:00Z"), Instant.parse("2025-06-15T06:00:00Z")),
        new FeedCommand.WithdrawAsk("ask_7c2f9h4k8m3p6r1t"),
        new FeedCommand.Capacity(4_000L, 4, "end_9b3d7f2h6k1m5p8r", List.of("ask_7c2f9h4k8m3p6r1t")),
        new FeedCommand.Capacity(0L, 0, "end_9b3d7f2h6k1m5p8r", List.of()),
        new FeedCommand.Capacity(4_000L, 4, null, List.of("ask_1", "ask_2")),
        new FeedCommand.Subscribe(List.of("summarize", "chat")),
        new FeedCommand.Unsubscribe(List.of("summarize")));
  }

  @ParameterizedTest
  @MethodSource("everyType")
  void everyCommandRoundTripsThroughItsWireForm(FeedCommand command) throws JsonProcessingException {
    String wire = JsonBodies.MAPPER.writeValueAsString(command);
    assertEquals(command, decode(wire), wire);
  }

  @Test
  void theSpecsExamplesDecodeToTheirCommands() {
    assertEquals(new FeedCommand.PostAsk(new AskTerms("feed-7b", "summarize", 350_000L, 70, 4_000L, 4, "eu-west", List.of("gdpr"),
            Instant.parse("2025-06-14T18:00:00Z"), Instant.parse("2025-06-15T06:00:00Z"), true)),
        decode("{\"type\":\"post_ask\",\"id\":\"c9\",\"ask\":" + FULL_ASK + "}"));
    assertEquals(new FeedCommand.AmendAsk("ask_7c2f9h4k8m3p6r1t", 390_000L, null, null, null, null),
        decode("{\"type\":\"amend_ask\",\"id\":\"c2\",\"ask_id\":\"ask_7c2f9h4k8m3p6r1t\",\"price_per_mtok\":390000}"));
    assertEquals(new FeedCommand.WithdrawAsk("ask_7c2f9h4k8m3p6r1t"), decode("{\"type\":\"withdraw_ask\",\"id\":\"c4\",\"ask_id\":\"ask_7c2f9h4k8m3p6r1t\"}"));
    assertEquals(new FeedCommand.Capacity(4_000L, 4, "end_9b3d7f2h6k1m5p8r", List.of("ask_7c2f9h4k8m3p6r1t")),
        decode("{\"type\":\"capacity\",\"id\":\"c5\",\"endpoint_id\":\"end_9b3d7f2h6k1m5p8r\",\"ask_ids\":[\"ask_7c2f9h4k8m3p6r1t\"],"
            + "\"tokens_per_second\":4000,\"max_concurrency\":4}"));
    assertEquals(new FeedCommand.Subscribe(List.of("summarize")), decode("{\"type\":\"subscribe\",\"id\":\"s1\",\"use_cases\":[\"summarize\"]}"));
    assertEquals(new FeedCommand.Unsubscribe(List.of("summarize")), decode("{\"type\":\"unsubscribe\",\"id\":\"u1\",\"use_cases\":[\"summarize\"]}"));
  }

  @Test
  void theCorrelationIdIsReadAsTextWhateverItsType() {
    assertEquals("c1", IncomingMessage.read("{\"type\":\"withdraw_ask\",\"id\":\"c1\",\"ask_id\":\"a\"}").id());
    assertEquals("7", IncomingMessage.read("{\"type\":\"withdraw_ask\",\"id\":7,\"ask_id\":\"a\"}").id());
    assertNull(IncomingMessage.read("{\"type\":\"withdraw_ask\",\"id\":null,\"ask_id\":\"a\"}").id());
    assertNull(IncomingMessage.read("{\"type\":\"withdraw_ask\",\"ask_id\":\"a\"}").id());
  }

  @Test
  void membersOnlyLookedUpAreReadAsTextAsTheyAlwaysWere() {
    // An odd endpoint, ask or use case id is then not found (or not in the catalog), not refused for its type.
    assertEquals(new FeedCommand.Capacity(1L, 1, "5", List.of("7", "null", "")),
        decode("{\"type\":\"capacity\",\"endpoint_id\":5,\"ask_ids\":[7,null,{}],\"tokens_per_second\":1,\"max_concurrency\":1}"));
    assertEquals(new FeedCommand.Capacity(1L, 1, "end_1", List.of()),
        decode("{\"type\":\"capacity\",\"endpoint_id\":\"end_1\",\"ask_ids\":\"ask_1\",\"tokens_per_second\":1,\"max_concurrency\":1}"));
    assertEquals(new FeedCommand.Subscribe(List.of("5", "null", "")), decode("{\"type\":\"subscribe\",\"use_cases\":[5,null,[]]}"));
  }

  @Test
  void membersACommandDoesNotReadAreIgnoredExceptInAnAmendment() {
    assertEquals(new FeedCommand.WithdrawAsk("a"), decode("{\"type\":\"withdraw_ask\",\"ask_id\":\"a\",\"note\":1}"));
    assertEquals(new FeedCommand.Subscribe(List.of("chat")), decode("{\"type\":\"subscribe\",\"use_cases\":[\"chat\"],\"note\":1}"));
    assertEquals(FeedCommand.PostAsk.class, decode("{\"type\":\"post_ask\",\"ask\":" + FULL_ASK + ",\"note\":1}").getClass());
    assertEquals(FeedCommand.Capacity.class, decode("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"tokens_per_second\":1,\"max_concurrency\":1,\"note\":1}").getClass());
  }

  /** Text sent, the key's role, then the error expected: status, code, message and field (null: none). */
  static Stream<Arguments> badMessages() {
    String longId = "x".repeat(101);
    return Stream.of(
        // the envelope
        bad("{not json", 400, "bad-request", "the message is not valid JSON", null),
        bad("{\"type\":\"subscribe\"} {}", 400, "bad-request", "the message is not valid JSON", null),
        bad("[1]", 400, "bad-request", "a message is a JSON object with a 'type'", null),
        bad("", 400, "bad-request", "a message is a JSON object with a 'type'", null),
        bad("{\"type\":\"subscribe\",\"id\":\"" + longId + "\",\"use_cases\":[\"chat\"]}", 422, "invalid-field", "a correlation id is at most 100 characters", "id"),
        bad("{\"id\":\"e0\"}", 422, "invalid-field", "a message needs a 'type'", "type"),
        bad("{\"type\":null}", 422, "invalid-field", "a message needs a 'type'", "type"),
        bad("{\"type\":{\"name\":\"subscribe\"}}", 422, "invalid-field", "a message needs a 'type'", "type"),
        bad("{\"type\":\"teleport\",\"id\":\"e1\"}", 422, "invalid-field", CATALOG_ERROR.formatted("teleport"), "type"),
        bad("{\"type\":5}", 422, "invalid-field", CATALOG_ERROR.formatted("5"), "type"),
        bad("{\"type\":\"Post_Ask\"}", 422, "invalid-field", CATALOG_ERROR.formatted("Post_Ask"), "type"),
        // a read-only key may only watch, whatever else is wrong with the message
        readOnly("{\"type\":\"post_ask\",\"ask\":" + FULL_ASK + "}", 403, "forbidden", "a read-only key can subscribe to books but not change asks or capacity", null),
        readOnly("{\"type\":\"capacity\"}", 403, "forbidden", "a read-only key can subscribe to books but not change asks or capacity", null),
        readOnly("{\"type\":\"teleport\"}", 403, "forbidden", "a read-only key can subscribe to books but not change asks or capacity", null),
        readOnly("{\"type\":\"subscribe\",\"id\":\"" + longId + "\"}", 422, "invalid-field", "a correlation id is at most 100 characters", "id"),
        readOnly("{\"type\":\"unsubscribe\"}", 422, "invalid-field", "use_cases lists at least one use case", "use_cases"),
        // post_ask: the ask is read like an HTTP body, and its members are named as its own
        bad("{\"type\":\"post_ask\"}", 422, "invalid-field", "'ask' is required and is a JSON object", "ask"),
        bad("{\"type\":\"post_ask\",\"ask\":null}", 422, "invalid-field", "'ask' is required and is a JSON object", "ask"),
        bad("{\"type\":\"post_ask\",\"ask\":\"feed-7b\"}", 422, "invalid-field", "'ask' is required and is a JSON object", "ask"),
        bad("{\"type\":\"post_ask\",\"ask\":[]}", 422, "invalid-field", "'ask' is required and is a JSON object", "ask"),
        bad("{\"type\":\"post_ask\",\"ask\":{}}", 422, "invalid-field", "model is 1 to 200 characters", "model"),
        bad(postAsk("\"price_per_mtok\":\"free\""), 422, "invalid-field", "'price_per_mtok' has the wrong type or is missing", "price_per_mtok"),
        bad(postAsk("\"price_per_mtok\":1.5"), 422, "invalid-field", "'price_per_mtok' has the wrong type or is missing", "price_per_mtok"),
        bad(postAsk("\"price_per_mtok\":0"), 422, "invalid-field", "price_per_mtok is a positive whole number of micro-USD per million tokens", "price_per_mtok"),
        bad(postAsk("\"price_per_mtok\":123456789012345678901234567890"), 422, "invalid-field", "'price_per_mtok' is out of range", "price_per_mtok"),
        bad(postAsk("\"quality\":101"), 422, "invalid-field", "quality is between 0 and 100", "quality"),
        bad(postAsk("\"quality\":99999999999"), 422, "invalid-field", "'quality' is out of range", "quality"),
        bad(postAsk("\"max_concurrency\":\"many\""), 422, "invalid-field", "'max_concurrency' has the wrong type or is missing", "max_concurrency"),
        bad(postAsk("\"compliance_tags\":[5]"), 422, "invalid-field", "'compliance_tags.[0]' has the wrong type or is missing", "compliance_tags.[0]"),
        bad(postAsk("\"window_from\":\"tonight\""), 422, "invalid-field", "'window_from' has the wrong type or is missing", "window_from"),
        bad(postAsk("\"window_until\":\"2025-06-14T17:00:00Z\""), 422, "invalid-field", "window_until must be after window_from", "window_until"),
        bad(postAsk("\"price\":350000"), 422, "invalid-field", "unknown member 'price'; known members: cancel_on_disconnect, compliance_tags, "
            + "max_concurrency, model, price_per_mtok, quality, region, throughput_tps, use_case, window_from, window_until", "price"),
        // amend_ask: read strictly, the known members being the terms
        bad("{\"type\":\"amend_ask\",\"price_per_mtok\":1}", 422, "invalid-field", "ask_id is required", "ask_id"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":7,\"price_per_mtok\":1}", 422, "invalid-field", "ask_id is required", "ask_id"),
        bad("{\"type\":\"amend_ask\",\"askId\":\"a\",\"price_per_mtok\":1}", 422, "invalid-field", "ask_id is required", "ask_id"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":\"a\"}", 422, "invalid-field",
            "an amendment changes at least one of price_per_mtok, quality, throughput_tps, window_from, window_until", "price_per_mtok"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":\"a\",\"price_per_mtok\":1,\"max_concurrency\":2}", 422, "invalid-field",
            "unknown member 'max_concurrency'; known members: price_per_mtok, quality, throughput_tps, window_from, window_until", "max_concurrency"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":\"a\",\"quality\":\"high\"}", 422, "invalid-field", "'quality' has the wrong type or is missing", "quality"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":\"a\",\"throughput_tps\":0}", 422, "invalid-field", "throughput_tps must be positive", "throughput_tps"),
        bad("{\"type\":\"amend_ask\",\"ask_id\":\"a\",\"price_per_mtok\":99999999999999999999}", 422, "invalid-field", "'price_per_mtok' is out of range", "price_per_mtok"),
        // withdraw_ask
        bad("{\"type\":\"withdraw_ask\",\"id\":\"w\"}", 422, "invalid-field", "ask_id is required", "ask_id"),
        bad("{\"type\":\"withdraw_ask\",\"ask_id\":[\"a\"]}", 422, "invalid-field", "ask_id is required", "ask_id"),
        // capacity
        bad("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"max_concurrency\":1}", 422, "invalid-field", "tokens_per_second is a whole number, 0 or more", "tokens_per_second"),
        bad("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"tokens_per_second\":\"4000\",\"max_concurrency\":1}", 422, "invalid-field",
            "tokens_per_second is a whole number, 0 or more", "tokens_per_second"),
        bad("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"tokens_per_second\":-1,\"max_concurrency\":1}", 422, "invalid-field",
            "tokens_per_second is a whole number, 0 or more", "tokens_per_second"),
        bad("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"tokens_per_second\":1,\"max_concurrency\":1.5}", 422, "invalid-field",
            "max_concurrency is a whole number, 0 or more", "max_concurrency"),
        bad("{\"type\":\"capacity\",\"endpoint_id\":\"e\",\"tokens_per_second\":1,\"max_concurrency\":null}", 422, "invalid-field",
            "max_concurrency is a whole number, 0 or more", "max_concurrency"),
        bad("{\"type\":\"capacity\",\"tokens_per_second\":1,\"max_concurrency\":1}", 422, "invalid-field", "capacity names an endpoint_id, ask_ids, or both", "endpoint_id"),
        bad("{\"type\":\"capacity\",\"endpoint_id\":null,\"ask_ids\":[],\"tokens_per_second\":1,\"max_concurrency\":1}", 422, "invalid-field",
            "capacity names an endpoint_id, ask_ids, or both", "endpoint_id"),
        // subscribe and unsubscribe
        bad("{\"type\":\"subscribe\"}", 422, "invalid-field", "use_cases lists at least one use case", "use_cases"),
        bad("{\"type\":\"subscribe\",\"use_cases\":[]}", 422, "invalid-field", "use_cases lists at least one use case", "use_cases"),
        bad("{\"type\":\"subscribe\",\"use_cases\":\"chat\"}", 422, "invalid-field", "use_cases lists at least one use case", "use_cases"),
        bad("{\"type\":\"unsubscribe\",\"use_cases\":{\"chat\":true}}", 422, "invalid-field", "use_cases lists at least one use case", "use_cases"));
  }

  @ParameterizedTest(name = "[{index}] {1} {0}")
  @MethodSource("badMessages")
  void aBadMessageGetsTheErrorTheFeedHasAlwaysSent(String text, Role role, int status, String code, String message, String field) {
    ProblemException refused = assertThrows(ProblemException.class, () -> IncomingMessage.read(text).command(role));
    Problem problem = refused.problem();
    assertEquals(status, problem.status(), problem.detail());
    assertEquals("https://keld.io/problems/" + code, problem.type());
    assertEquals(message, problem.detail());
    assertEquals(field, problem.field());
  }

  private static FeedCommand decode(String text) {
    return IncomingMessage.read(text).command(Role.PROVIDER);
  }

  /** A post_ask whose ask is the full one with {@code member} added or replaced. */
  private static String postAsk(String member) {
    String name = member.substring(0, member.indexOf(':'));
    String ask = FULL_ASK.replaceAll(",?" + Pattern.quote(name) + ":(\"[^\"]*\"|\\[[^]]*]|[^,}]*)", "");
    return "{\"type\":\"post_ask\",\"id\":\"p\",\"ask\":" + ask.replaceFirst("^\\{", "{" + member + ",") + "}";
  }

  private static Arguments bad(String text, int status, String code, String message, String field) {
    return Arguments.of(text, Role.PROVIDER, status, code, message, field);
  }

  private static Arguments readOnly(String text, int status, String code, String message, String field) {
    return Arguments.of(text, Role.READ_ONLY, status, code, message, field);
  }
}
