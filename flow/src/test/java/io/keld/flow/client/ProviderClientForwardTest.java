package io.keld.flow.client;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.keld.flow.Operation;
import io.keld.flow.Route;
import io.keld.flow.Usage;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The real-time forward against a real HTTP server that plays a provider: each behaviour lives
 * under its own path prefix ({@code /ok/v1}, {@code /status-429/v1}, …), so one route list can mix
 * them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProviderClientForwardTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ContentType EVENT_STREAM = ContentTypes.parse("text/event-stream");
  private static final String ANSWER = """
      {"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},\
      "finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}""";
  private static final String FIRST_EVENT = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
  private static final List<String> LATER_EVENTS = List.of(
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
      "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n",
      "data: [DONE]\n\n");

  private final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString("""
      pekko.http.server.socket-options.tcp-no-delay = on
      pekko.http.host-connection-pool.client.socket-options.tcp-no-delay = on
      """).withFallback(ConfigFactory.load()));
  private ProviderClient client;
  private ServerBinding provider;
  private String base;

  /** Requests per behaviour, and the bodies and authorization the provider received. */
  private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
  private final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
  private final List<String> rawBodies = new CopyOnWriteArrayList<>();
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  /** The streaming behaviour sends its first event, then waits for this before it sends the rest. */
  private volatile CompletableFuture<Done> restOfStream = new CompletableFuture<>();

  @BeforeAll
  void start() throws Exception {
    client = new ProviderClient(testKit.system(), 8);
    provider = Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(providerRoute())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + provider.localAddress().getPort();
  }

  @AfterAll
  void stop() {
    provider.unbind();
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void reset() {
    requests.clear();
    bodies.clear();
    rawBodies.clear();
    authorizations.clear();
    restOfStream = new CompletableFuture<>();
  }

  private org.apache.pekko.http.javadsl.server.Route providerRoute() {
    return pathPrefix(PathMatchers.segment(), behaviour -> path(PathMatchers.segment("v1").slash("chat").slash("completions"),
        () -> post(() -> extractRequest(request -> entity(Unmarshaller.entityToString(), body -> {
          requests.computeIfAbsent(behaviour, b -> new AtomicInteger()).incrementAndGet();
          authorizations.add(request.getHeader("Authorization").map(h -> h.value()).orElse(""));
          rawBodies.add(body);
          try {
            bodies.add(JSON.readTree(body));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return completeWithFuture(answer(behaviour));
        })))));
  }

  private CompletionStage<HttpResponse> answer(String behaviour) {
    switch (behaviour) {
      case "ok":
        return done(HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, ANSWER)));
      case "stream": {
        Source<ByteString, ?> events = Source.single(ByteString.fromString(FIRST_EVENT))
            .concat(Source.completionStage(restOfStream).mapConcat(d -> LATER_EVENTS.stream().map(ByteString::fromString).toList()));
        return done(HttpResponse.create().withEntity(HttpEntities.createChunked(EVENT_STREAM, events)));
      }
      case "slow": {
        CompletableFuture<HttpResponse> late = new CompletableFuture<>();
        late.completeOnTimeout(HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, ANSWER)), 3, TimeUnit.SECONDS);
        return late;
      }
      case "stream-broken":
        return done(HttpResponse.create().withEntity(HttpEntities.createChunked(EVENT_STREAM, cutAfter(FIRST_EVENT))));
      case "broken":
        return done(HttpResponse.create().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_JSON, cutAfter("{\"id\":\"chatcmpl-1\","))));
      default: {
        int status = Integer.parseInt(behaviour.substring("status-".length()));
        HttpResponse error = HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON,
            "{\"error\":{\"type\":\"provider_said\",\"code\":\"c" + status + "\",\"message\":\"status " + status + "\"}}"));
        return done(status == 429 ? error.addHeader(RawHeader.create("Retry-After", "3")) : error);
      }
    }
  }

  /** A body that sends {@code start} and then breaks off; late enough that the response head has gone out as a 200. */
  private static Source<ByteString, ?> cutAfter(String start) {
    CompletionStage<ByteString> cut = CompletableFuture.supplyAsync(() -> {
      throw new IllegalStateException("the provider broke off");
    }, CompletableFuture.delayedExecutor(200, TimeUnit.MILLISECONDS));
    return Source.single(ByteString.fromString(start)).concat(Source.completionStage(cut));
  }

  private static CompletionStage<HttpResponse> done(HttpResponse response) {
    return CompletableFuture.completedFuture(response);
  }

  // -- helpers --------------------------------------------------------------------------------------

  private final List<String> resolved = new CopyOnWriteArrayList<>();

  /** A route to one behaviour of the provider, resolved (and noted) only when the forward tries it. */
  private Supplier<CompletionStage<Route>> to(String behaviour) {
    return () -> {
      resolved.add(behaviour);
      return CompletableFuture.completedFuture(new Route(new ProviderEndpoint(behaviour, base + "/" + behaviour + "/v1", "sk-" + behaviour),
          "model-" + behaviour));
    };
  }

  /** A port nothing listens on. */
  private static Supplier<CompletionStage<Route>> refused() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port + "/v1";
    return () -> CompletableFuture.completedFuture(new Route(new ProviderEndpoint("refused", url, null), "model-refused"));
  }

  private static ObjectNode chat(boolean stream) {
    ObjectNode body = JSON.createObjectNode().put("model", "what-the-caller-asked").put("temperature", 0.25).put("stream", stream);
    body.putArray("messages").addObject().put("role", "user").put("content", "hello");
    body.putObject("logit_bias").put("50256", -100);
    return body;
  }

  @SafeVarargs
  private Forwarded forward(boolean stream, Duration timeout, Supplier<CompletionStage<Route>>... routes) throws Exception {
    return client.forward(Operation.CHAT_COMPLETIONS, chat(stream), stream, List.of(routes), timeout).toCompletableFuture()
        .get(20, TimeUnit.SECONDS);
  }

  private Forwarded forward(Supplier<CompletionStage<Route>>... routes) throws Exception {
    return forward(false, Duration.ofSeconds(10), routes);
  }

  private int requestsTo(String behaviour) {
    AtomicInteger n = requests.get(behaviour);
    return n == null ? 0 : n.get();
  }

  private static Attempt.Failed failedOutcome(Forwarded forwarded) {
    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forwarded);
    return assertInstanceOf(Attempt.Failed.class, answered.outcome());
  }

  // -- answers read whole ---------------------------------------------------------------------------

  @Test
  void anAnswerComesBackWholeWithItsUsageAndTheBodyWentAsTheCallerWroteIt() throws Exception {
    Forwarded forwarded = forward(to("ok"));

    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forwarded);
    assertEquals(0, answered.route());
    assertEquals(200, answered.status().intValue());
    assertEquals(ContentTypes.APPLICATION_JSON, answered.contentType());
    assertEquals(ANSWER, new String(answered.body(), StandardCharsets.UTF_8), "the provider's bytes, untouched");
    assertEquals(Optional.of(new Usage(11, 7)), answered.usage());
    assertInstanceOf(Attempt.Answered.class, answered.outcome());

    JsonNode sent = bodies.get(0);
    ObjectNode expected = chat(false).put("model", "model-ok");
    assertEquals(expected, sent, "only the model is the route's; stream, logit_bias and the rest go as written");
    assertEquals("Bearer sk-ok", authorizations.get(0));
  }

  @Test
  void aRouteServingTheNamedModelGetsTheCallersBytesAsTheyAreAndAnotherGetsItsModel() throws Exception {
    String asWritten = "{ \"messages\" : [{\"role\":\"user\",\"content\":\"hello\"}],\n  \"model\":\"model-ok\", \"temperature\":0.250 }";
    ObjectNode parsed = (ObjectNode) JSON.readTree(asWritten);
    Forwarded forwarded = client.forward(Operation.CHAT_COMPLETIONS, parsed, asWritten.getBytes(StandardCharsets.UTF_8), false,
        List.of(to("status-500"), to("ok")), Duration.ofSeconds(10)).toCompletableFuture().get(20, TimeUnit.SECONDS);

    assertEquals(1, assertInstanceOf(Forwarded.Answered.class, forwarded).route());
    assertEquals(2, rawBodies.size());
    assertEquals(parsed.deepCopy().put("model", "model-status-500"), bodies.get(0), "the other model's route gets the body with its model");
    assertEquals(asWritten, rawBodies.get(1), "the named model's route gets the very bytes the caller sent");
    assertEquals("model-ok", parsed.get("model").asText(), "the caller's parsed body is left as it was");
  }

  @Test
  void aStreamAlwaysAsksForTheUsageChunkEvenWhenTheCallersBytesNameTheModel() throws Exception {
    ObjectNode parsed = chat(true).put("model", "model-stream");
    Forwarded forwarded = client.forward(Operation.CHAT_COMPLETIONS, parsed, JSON.writeValueAsBytes(parsed), true,
        List.of(to("stream")), Duration.ofSeconds(10)).toCompletableFuture().get(20, TimeUnit.SECONDS);

    Forwarded.Streaming streaming = assertInstanceOf(Forwarded.Streaming.class, forwarded);
    restOfStream.complete(Done.getInstance());
    streaming.body().runWith(Sink.ignore(), testKit.system()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertTrue(bodies.get(0).path("stream_options").path("include_usage").asBoolean());
    assertFalse(parsed.has("stream_options"), "the caller's parsed body is left as it was");
  }

  @Test
  void usageReadFromTheBytesIsWhatTheParsedAnswerCarries() throws Exception {
    List<String> answers = List.of(ANSWER, "{\"usage\":{\"prompt_tokens\":3}}", "{\"usage\":{\"completion_tokens\":\"4\",\"x\":[1,{\"a\":2}]}}",
        "{\"choices\":[{\"usage\":{\"prompt_tokens\":9}}],\"usage\":null}", "{\"usage\":5}", "[1,2]", "not json", "",
        "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":8}}",
        "{\"a\":{\"usage\":{\"prompt_tokens\":1}},\"b\":\"usage\"}");
    for (String answer : answers) {
      JsonNode tree;
      try {
        tree = JSON.readTree(answer);
      } catch (Exception notJson) {
        tree = null;
      }
      assertEquals(ProviderClient.usageOf(tree), ProviderClient.usageOf(answer.getBytes(StandardCharsets.UTF_8)), answer);
    }
  }

  @Test
  void anAnswerWithoutUsageSaysSo() throws Exception {
    Forwarded forwarded = forward(to("status-200"));

    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forwarded);
    assertEquals(200, answered.status().intValue());
    assertEquals(Optional.empty(), answered.usage());
  }

  @Test
  void anAnswerThatBreaksOffIsNotRetried() throws Exception {
    Forwarded forwarded = forward(to("broken"), to("ok"));

    Forwarded.BrokeOff brokeOff = assertInstanceOf(Forwarded.BrokeOff.class, forwarded);
    assertEquals(0, brokeOff.route());
    assertEquals(200, brokeOff.status().intValue());
    assertEquals(0, requestsTo("ok"));
  }

  // -- streams --------------------------------------------------------------------------------------

  @Test
  void streamedEventsReachTheCallerBeforeTheProviderHasFinished() throws Exception {
    Forwarded forwarded = forward(true, Duration.ofSeconds(10), to("stream"));

    Forwarded.Streaming streaming = assertInstanceOf(Forwarded.Streaming.class, forwarded);
    assertEquals(200, streaming.status().intValue());
    assertEquals(EVENT_STREAM, streaming.contentType());
    CompletableFuture<String> first = new CompletableFuture<>();
    StringBuilder received = new StringBuilder();
    CompletionStage<Done> whole = streaming.body().runWith(Sink.foreach(bytes -> {
      received.append(bytes.utf8String());
      if (received.toString().contains("\n\n")) first.complete(received.toString());
    }), testKit.system());

    assertEquals(FIRST_EVENT, first.get(10, TimeUnit.SECONDS), "the first event arrives while the provider holds the rest");
    assertFalse(streaming.usage().toCompletableFuture().isDone(), "the stream has not ended");
    restOfStream.complete(Done.getInstance());
    whole.toCompletableFuture().get(10, TimeUnit.SECONDS);

    assertEquals(FIRST_EVENT + String.join("", LATER_EVENTS), received.toString(), "every byte passes through as it came");
    Forwarded.StreamEnd end = streaming.usage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(Optional.of(new Usage(5, 3)), end.usage(), "read from the final usage chunk");
    assertEquals(3, end.dataChunks());
    assertFalse(end.brokeOff());
    assertTrue(bodies.get(0).path("stream_options").path("include_usage").asBoolean(), "the provider is asked for the usage chunk");
    assertTrue(bodies.get(0).path("stream").asBoolean());
  }

  @Test
  void aStreamedRequestThatIsRefusedComesBackWhole() throws Exception {
    Forwarded forwarded = forward(true, Duration.ofSeconds(10), to("status-400"));

    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forwarded);
    assertEquals(400, answered.status().intValue());
    assertTrue(new String(answered.body(), StandardCharsets.UTF_8).contains("\"code\":\"c400\""));
  }

  // -- classification -------------------------------------------------------------------------------

  @Test
  void failuresAreClassifiedAsProviderClientClassifiesThem() throws Exception {
    Attempt.Failed rateLimited = failedOutcome(forward(to("status-429")));
    assertEquals(Attempt.Failure.RATE_LIMITED, rateLimited.kind());
    assertEquals(Duration.ofSeconds(3), rateLimited.retryAfter());
    assertEquals("c429", rateLimited.error().code());

    assertEquals(Attempt.Failure.SERVER_ERROR, failedOutcome(forward(to("status-500"))).kind());
    assertEquals(Attempt.Failure.OVERLOADED, failedOutcome(forward(to("status-503"))).kind());
    assertEquals(Attempt.Failure.REJECTED, failedOutcome(forward(to("status-400"))).kind());

    Forwarded.Unreachable refused = assertInstanceOf(Forwarded.Unreachable.class, forward(refused()));
    assertEquals(Attempt.Failure.CONNECTION, refused.kind());

    Forwarded.Unreachable slow = assertInstanceOf(Forwarded.Unreachable.class, forward(false, Duration.ofMillis(500), to("slow")));
    assertEquals(Attempt.Failure.TIMEOUT, slow.kind());
    assertEquals("no answer in time", slow.reason());
  }

  @Test
  void theProviderErrorComesBackAsItCame() throws Exception {
    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forward(to("status-500")));
    assertEquals(500, answered.status().intValue());
    assertEquals("{\"error\":{\"type\":\"provider_said\",\"code\":\"c500\",\"message\":\"status 500\"}}",
        new String(answered.body(), StandardCharsets.UTF_8));
  }

  // -- moving on to the next route ------------------------------------------------------------------

  @Test
  void a429A5xxOrNoConnectionMovesOnToTheNextRoute() throws Exception {
    for (Supplier<CompletionStage<Route>> failing : List.of(to("status-429"), to("status-500"), to("status-503"), refused())) {
      reset();
      Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forward(failing, to("ok")));
      assertEquals(1, answered.route());
      assertEquals(200, answered.status().intValue());
      assertEquals(1, requestsTo("ok"));
    }
  }

  @Test
  void aRouteThatCannotBeResolvedMovesOnToTheNext() throws Exception {
    Supplier<CompletionStage<Route>> unknown = () -> CompletableFuture.failedFuture(new IllegalStateException("provider p has no endpoint registered"));

    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forward(unknown, to("ok")));
    assertEquals(1, answered.route());

    Forwarded.Unreachable alone = assertInstanceOf(Forwarded.Unreachable.class, forward(unknown));
    assertEquals("provider p has no endpoint registered", alone.reason());
  }

  @Test
  void aRefusalIsNotRetriedAnywhere() throws Exception {
    for (String refusal : List.of("status-400", "status-408", "status-404")) {
      reset();
      Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forward(to(refusal), to("ok")));
      assertEquals(0, answered.route());
      assertEquals(1, requestsTo(refusal));
      assertEquals(0, requestsTo("ok"), refusal + " is not sent elsewhere");
    }
  }

  @Test
  void theLastRouteIsTriedOnceAndLaterRoutesAreNotResolved() throws Exception {
    resolved.clear();
    Forwarded.Answered answered = assertInstanceOf(Forwarded.Answered.class, forward(to("status-503")));
    assertEquals(503, answered.status().intValue());
    assertEquals(1, requestsTo("status-503"), "no second try at the same provider");

    resolved.clear();
    forward(to("ok"), to("status-500"));
    assertEquals(List.of("ok"), resolved);
  }

  @Test
  void theTimeAllowedIsForTheWholeForward() throws Exception {
    // The slow provider uses up the time: the next route is not tried.
    Forwarded forwarded = forward(false, Duration.ofMillis(500), to("slow"), to("ok"));
    assertEquals(new Forwarded.DeadlinePassed(1), forwarded);
    assertEquals(0, requestsTo("ok"));

    assertEquals(new Forwarded.DeadlinePassed(0), forward(false, Duration.ZERO, to("ok")));
  }

  @Test
  void aStreamThatBreaksOffIsNotRetriedAndSaysSo() throws Exception {
    Forwarded forwarded = forward(true, Duration.ofSeconds(10), to("stream-broken"), to("ok"));

    Forwarded.Streaming streaming = assertInstanceOf(Forwarded.Streaming.class, forwarded);
    assertEquals(0, streaming.route());
    CompletionStage<Done> whole = streaming.body().runWith(Sink.ignore(), testKit.system());
    assertThrows(Exception.class, () -> whole.toCompletableFuture().get(10, TimeUnit.SECONDS));
    Forwarded.StreamEnd end = streaming.usage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertTrue(end.brokeOff());
    assertEquals(Optional.empty(), end.usage());
    assertEquals(1, end.dataChunks());
    assertEquals(0, requestsTo("ok"));
  }
}
