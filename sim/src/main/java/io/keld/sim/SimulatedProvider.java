package io.keld.sim;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.Json;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import java.util.ArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A simulated provider fleet behind an OpenAI-compatible HTTP API ({@code /v1/chat/completions}
 * with and without {@code stream}, {@code /v1/embeddings}, {@code /v1/models}). It has a number of
 * slots: a request beyond them is answered 429 at once, as real fleets do. A served request holds
 * its slot for the time to first token plus its output at the slot's token rate. Faults (errors,
 * stalls, dropped connections) are injected at the configured rates. {@code /admin/fleet} reads and
 * changes the settings at run time; {@code /admin/stats} counts what happened.
 *
 * <p>Prompts are read to derive the answer and are never logged or kept.
 */
public final class SimulatedProvider implements AutoCloseable {

  private static final ObjectMapper JSON = Json.PLAIN;

  /** Counters since start (or the last reset). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Stats(long requests, long served, long rateLimited, long errors, long dropped, int inFlight, int maxInFlight) {}

  private final ActorSystem<?> system;
  private final String name;
  private final List<String> models;
  private final AtomicReference<FleetSettings> settings;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong served = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private volatile ServerBinding binding;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "sim-provider-timer");
    t.setDaemon(true);
    return t;
  });

  private SimulatedProvider(ActorSystem<?> system, String name, List<String> models, FleetSettings settings) {
    this.system = system;
    this.name = name;
    this.models = List.copyOf(models);
    this.settings = new AtomicReference<>(settings);
  }

  /** Starts a fleet on {@code host:port} (port 0 picks a free one) and returns once it listens. */
  public static SimulatedProvider start(ActorSystem<?> system, String host, int port, String name, List<String> models,
      FleetSettings settings) {
    SimulatedProvider p = new SimulatedProvider(system, name, models, settings);
    try {
      p.binding = Http.get(system).newServerAt(host, port).bind(p.route()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the simulated provider could not bind " + host + ":" + port + ": " + e.getMessage(), e);
    }
    return p;
  }

  public int port() {
    return binding.localAddress().getPort();
  }

  /** The OpenAI-style base URL, ending in {@code /v1}. */
  public String baseUrl() {
    return "http://" + binding.localAddress().getHostString() + ":" + port() + "/v1";
  }

  public String name() {
    return name;
  }

  public FleetSettings settings() {
    return settings.get();
  }

  public void update(FleetSettings next) {
    settings.set(next);
  }

  public Stats stats() {
    return new Stats(requests.get(), served.get(), rejected.get(), errors.get(), dropped.get(), inFlight.get(), maxInFlight.get());
  }

  public void resetStats() {
    requests.set(0);
    served.set(0);
    rejected.set(0);
    errors.set(0);
    dropped.set(0);
    maxInFlight.set(inFlight.get());
  }

  @Override
  public void close() {
    if (binding != null) binding.terminate(Duration.ofSeconds(5)).toCompletableFuture().join();
    timer.shutdownNow();
  }

  // -- routes -----------------------------------------------------------------------------------

  Route route() {
    return concat(
        pathPrefix("v1", () -> concat(
            path("models", () -> get(() -> complete(json(StatusCodes.OK, modelList())))),
            path(PathMatchers.segment("chat").slash("completions"), () -> post(() -> entity(Unmarshaller.entityToString(), this::chat))),
            path("embeddings", () -> post(() -> entity(Unmarshaller.entityToString(), this::embeddings))))),
        pathPrefix("admin", () -> concat(
            path("fleet", () -> concat(
                get(() -> complete(json(StatusCodes.OK, JSON.valueToTree(settings.get())))),
                put(() -> entity(Unmarshaller.entityToString(), body -> {
                  try {
                    FleetSettings next = JSON.readValue(body, FleetSettings.class);
                    settings.set(next);
                    return complete(json(StatusCodes.OK, JSON.valueToTree(next)));
                  } catch (Exception e) {
                    return complete(error(StatusCodes.BAD_REQUEST, "invalid fleet settings: " + rootMessage(e), "invalid_request_error", null));
                  }
                })))),
            path("stats", () -> get(() -> complete(json(StatusCodes.OK, JSON.valueToTree(stats()))))))));
  }

  /** Counts the request and reads its JSON body for a served model; otherwise the OpenAI error to answer. */
  private Object readRequest(String body) {
    requests.incrementAndGet();
    JsonNode req;
    try {
      req = JSON.readTree(body);
    } catch (Exception e) {
      return error(StatusCodes.BAD_REQUEST, "the body is not valid JSON", "invalid_request_error", null);
    }
    String model = req.path("model").asText("");
    if (!models.contains(model)) {
      return error(StatusCodes.NOT_FOUND, "The model '" + model + "' does not exist", "invalid_request_error", "model_not_found");
    }
    return req;
  }

  private Route chat(String body) {
    Object read = readRequest(body);
    if (read instanceof HttpResponse refused) return complete(refused);
    JsonNode req = (JsonNode) read;
    String model = req.path("model").asText();
    if (!req.path("messages").isArray() || req.path("messages").isEmpty()) {
      return complete(error(StatusCodes.BAD_REQUEST, "'messages' must be a non-empty array", "invalid_request_error", "messages"));
    }
    StringBuilder prompt = new StringBuilder();
    for (JsonNode m : req.path("messages")) prompt.append(m.path("role").asText()).append(':').append(m.path("content").asText()).append('\n');
    Integer maxTokens = null;
    if (req.hasNonNull("max_tokens")) maxTokens = req.get("max_tokens").asInt();
    else if (req.hasNonNull("max_completion_tokens")) maxTokens = req.get("max_completion_tokens").asInt();
    boolean stream = req.path("stream").asBoolean(false);
    boolean includeUsage = req.path("stream_options").path("include_usage").asBoolean(false);
    String text = prompt.toString();
    long inTokens = Completions.inputTokens(text);
    long outTokens = Completions.outputTokens(text, maxTokens);
    List<String> words = Completions.words(text, outTokens);
    String finish = maxTokens != null && maxTokens > 0 && outTokens >= maxTokens ? "length" : "stop";
    String id = "chatcmpl-" + Long.toHexString(Completions.hash(text) ^ System.nanoTime());

    return admitted(s -> {
      long delay = s.serviceMillis(outTokens) + stall(s);
      if (!stream) {
        ObjectNode out = JSON.createObjectNode().put("id", id).put("object", "chat.completion")
            .put("created", System.currentTimeMillis() / 1000).put("model", model);
        ObjectNode choice = out.putArray("choices").addObject().put("index", 0).put("finish_reason", finish);
        choice.putObject("message").put("role", "assistant").put("content", String.join(" ", words));
        usage(out.putObject("usage"), inTokens, outTokens);
        return after(delay, () -> json(StatusCodes.OK, out));
      }
      // Streamed: the first token after the time to first token, then one token per 1/rate seconds.
      long perTokenNanos = 1_000_000_000L / s.tokensPerSecond();
      Source<ByteString, ?> events = Source.from(words)
          .zipWithIndex()
          .map(p -> sse(chunk(id, model, (p.second() == 0 ? "" : " ") + p.first(), null)))
          .throttle(1, Duration.ofNanos(Math.max(1, perTokenNanos)))
          .initialDelay(Duration.ofMillis(s.timeToFirstTokenMs() + stall(s)))
          .concat(Source.single(sse(chunk(id, model, null, finish))))
          .concat(includeUsage ? Source.single(sse(usageChunk(id, model, inTokens, outTokens))) : Source.empty())
          .concat(Source.single(ByteString.fromString("data: [DONE]\n\n")))
          .watchTermination((mat, done) -> {
            done.whenComplete((d, failure) -> finished(failure == null));
            return mat;
          });
      return CompletableFuture.completedFuture(HttpResponse.create()
          .withEntity(HttpEntities.createChunked(ContentTypes.parse("text/event-stream"), events)));
    }, !stream);
  }

  private Route embeddings(String body) {
    Object read = readRequest(body);
    if (read instanceof HttpResponse refused) return complete(refused);
    JsonNode req = (JsonNode) read;
    String model = req.path("model").asText();
    JsonNode input = req.path("input");
    List<String> inputs = new ArrayList<>();
    if (input.isTextual()) inputs.add(input.asText());
    else if (input.isArray()) input.forEach(i -> inputs.add(i.asText()));
    if (inputs.isEmpty()) return complete(error(StatusCodes.BAD_REQUEST, "'input' must be a string or an array of strings", "invalid_request_error", "input"));
    int dims = req.path("dimensions").asInt(16);
    return admitted(s -> {
      long tokens = inputs.stream().mapToLong(Completions::inputTokens).sum();
      ObjectNode out = JSON.createObjectNode().put("object", "list").put("model", model);
      ArrayNode data = out.putArray("data");
      for (int i = 0; i < inputs.size(); i++) {
        ArrayNode vec = data.addObject().put("object", "embedding").put("index", i).putArray("embedding");
        for (double d : Completions.embedding(inputs.get(i), dims)) vec.add(d);
      }
      out.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
      // Reading input is ~10x faster than writing output.
      return after(s.timeToFirstTokenMs() + tokens * 100 / s.tokensPerSecond() + stall(s), () -> json(StatusCodes.OK, out));
    }, true);
  }

  /**
   * Takes a slot or answers 429; injects faults; releases the slot when the response is done
   * ({@code releaseOnResponse}) or, for streams, when the stream ends (see {@link #finished}).
   */
  private Route admitted(Function<FleetSettings, CompletionStage<HttpResponse>> serve, boolean releaseOnResponse) {
    FleetSettings s = settings.get();
    int now = inFlight.incrementAndGet();
    if (now > s.slots()) {
      inFlight.decrementAndGet();
      rejected.incrementAndGet();
      return complete(error(StatusCodes.TOO_MANY_REQUESTS, "Rate limit reached: all " + s.slots() + " slots are busy", "rate_limit_exceeded", "rate_limit_exceeded")
          .addHeader(RawHeader.create("Retry-After", "1")));
    }
    maxInFlight.accumulateAndGet(now, Math::max);
    ThreadLocalRandom random = ThreadLocalRandom.current();
    if (random.nextDouble() < s.dropRate()) {
      dropped.incrementAndGet();
      return completeWithFuture(after(s.timeToFirstTokenMs(), () -> {
        inFlight.decrementAndGet();
        // A body that fails mid-way makes the server cut the connection: the client sees it dropped.
        return HttpResponse.create().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_JSON,
            Source.<ByteString>failed(new IllegalStateException("simulated dropped connection"))));
      }));
    }
    if (random.nextDouble() < s.errorRate()) {
      errors.incrementAndGet();
      return completeWithFuture(after(s.timeToFirstTokenMs(), () -> {
        inFlight.decrementAndGet();
        return error(StatusCodes.INTERNAL_SERVER_ERROR, "The server had an error while processing your request", "server_error", null);
      }));
    }
    CompletionStage<HttpResponse> response = serve.apply(s);
    if (releaseOnResponse) response = response.whenComplete((r, failure) -> finished(failure == null));
    return completeWithFuture(response);
  }

  private void finished(boolean ok) {
    inFlight.decrementAndGet();
    if (ok) served.incrementAndGet();
    else errors.incrementAndGet();
  }

  private long stall(FleetSettings s) {
    return ThreadLocalRandom.current().nextDouble() < s.stallRate() ? s.stallMs() : 0;
  }

  /**
   * Answers after {@code millis}. A JDK timer rather than Pekko's scheduler: the scheduler works in
   * ticks (10 ms, and about 30 ms seen on small VMs), which would swamp the few milliseconds of
   * service time a benchmark sets.
   */
  private CompletionStage<HttpResponse> after(long millis, Supplier<HttpResponse> response) {
    if (millis <= 0) return CompletableFuture.completedFuture(response.get());
    CompletableFuture<HttpResponse> out = new CompletableFuture<>();
    timer.schedule(() -> {
      try {
        out.complete(response.get());
      } catch (RuntimeException e) {
        out.completeExceptionally(e);
      }
    }, millis, TimeUnit.MILLISECONDS);
    return out;
  }

  // -- messages ---------------------------------------------------------------------------------

  private JsonNode modelList() {
    ObjectNode out = JSON.createObjectNode().put("object", "list");
    ArrayNode data = out.putArray("data");
    for (String m : models) data.addObject().put("id", m).put("object", "model").put("created", 0).put("owned_by", name);
    return out;
  }

  private static void usage(ObjectNode u, long in, long out) {
    u.put("prompt_tokens", in).put("completion_tokens", out).put("total_tokens", in + out);
  }

  private static ObjectNode chunk(String id, String model, String content, String finish) {
    ObjectNode c = JSON.createObjectNode().put("id", id).put("object", "chat.completion.chunk")
        .put("created", System.currentTimeMillis() / 1000).put("model", model);
    ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
    ObjectNode delta = choice.putObject("delta");
    if (content != null) delta.put("content", content);
    if (finish != null) choice.put("finish_reason", finish);
    else choice.putNull("finish_reason");
    return c;
  }

  private static ObjectNode usageChunk(String id, String model, long in, long out) {
    ObjectNode c = JSON.createObjectNode().put("id", id).put("object", "chat.completion.chunk")
        .put("created", System.currentTimeMillis() / 1000).put("model", model);
    c.putArray("choices");
    usage(c.putObject("usage"), in, out);
    return c;
  }

  private static ByteString sse(JsonNode data) {
    return ByteString.fromString("data: " + data + "\n\n");
  }

  private static HttpResponse json(StatusCode status, JsonNode body) {
    return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
  }

  /** OpenAI's error object, so clients raise their usual exceptions. */
  private static HttpResponse error(StatusCode status, String message, String type, String code) {
    ObjectNode e = JSON.createObjectNode();
    ObjectNode inner = e.putObject("error").put("message", message).put("type", type);
    if (code != null) inner.put("code", code);
    else inner.putNull("code");
    return json(status, e);
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) t = t.getCause();
    return t.getMessage();
  }
}
