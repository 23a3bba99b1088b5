package io.keld.flow.client;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.flow.Item;
import io.keld.flow.ItemError;
import io.keld.flow.Operation;
import io.keld.flow.Route;
import io.keld.flow.Usage;
import io.keld.kit.Json;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import scala.concurrent.ExecutionContextExecutor;

/**
 * Sends one item to an OpenAI-compatible endpoint over Pekko HTTP's pooled client and classifies
 * what came back. It does not retry: retries go back through the endpoint's pacing pipeline, so a
 * retry waits for a free slot like any other request instead of hammering a busy fleet.
 *
 * <p>It also {@linkplain #forward forwards} a proxy's real-time requests, streamed or not, over the
 * same pool: one set of connections per provider host on a node, whoever the caller.
 *
 * <p>Request and response bodies hold content: they are read into memory, handed on, and never
 * logged. Error messages quote only the provider's error object, never the request.
 */
public final class ProviderClient {

  private static final ObjectMapper JSON = Json.PLAIN;

  private final Http http;
  private final Materializer materializer;
  private final ConnectionPoolSettings pool;
  private final HttpsConnectionContext https;
  private final LoggingAdapter log;
  private final Scheduler scheduler;
  private final ExecutionContextExecutor dispatcher;
  private static final int MAX_URIS = 10_000;
  private final Map<String, Uri> uris = new ConcurrentHashMap<>();

  /**
   * @param maxConnectionsPerHost the pool's connection limit per provider host; the pacing limit
   *                              keeps the real number of requests below it
   */
  public ProviderClient(ActorSystem<?> system, int maxConnectionsPerHost) {
    this.http = Http.get(system);
    this.materializer = Materializer.matFromSystem(system);
    // max-open-requests must be a power of two and above the connections, so a paced request is
    // never refused by the pool itself.
    // Real-time forwards share the pool unpaced: one that finds it full fails as CONNECTION and moves on.
    int open = Integer.highestOneBit(Math.max(2, maxConnectionsPerHost) * 4 - 1) << 1;
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(maxConnectionsPerHost)
        .withMaxOpenRequests(open)
        .withMaxRetries(0);
    this.https = http.defaultClientHttpsContext();
    this.log = system.classicSystem().log();
    this.scheduler = system.scheduler();
    this.dispatcher = system.executionContext();
  }

  /**
   * Sends {@code item} to {@code endpoint} as {@code model} and waits at most {@code timeout} for
   * the whole answer. Never fails: every outcome is an {@link Attempt}.
   */
  public CompletionStage<Attempt> send(ProviderEndpoint endpoint, String model, Item item, Duration timeout) {
    long started = System.nanoTime();
    ObjectNode body = item.body().deepCopy();
    if (model != null) body.put("model", model);
    // Flow reads whole answers (usage included); streaming to a caller is the edge's job.
    body.remove("stream");
    body.remove("stream_options");
    HttpRequest request;
    try {
      request = HttpRequest.create().withMethod(HttpMethods.POST).withUri(uri(endpoint.baseUrl() + item.operation().path()))
          .withEntity(ContentTypes.APPLICATION_JSON, JSON.writeValueAsBytes(body));
    } catch (Exception e) {
      return CompletableFuture.completedFuture(failed(Attempt.Failure.REJECTED, "the request body could not be written", 0, null, started));
    }
    if (endpoint.credential() != null) request = request.addHeader(Authorization.create(HttpCredentials.createOAuth2BearerToken(endpoint.credential())));

    CompletableFuture<Attempt> result = new CompletableFuture<>();
    direct(http.singleRequest(request, https, pool, log)).whenComplete((response, failure) -> {
      if (failure != null) {
        result.complete(failed(Attempt.Failure.CONNECTION, "could not reach the provider: " + rootMessage(failure), 0, null, started));
        return;
      }
      if (result.isDone()) { // timed out already: free the connection
        response.discardEntityBytes(materializer);
        return;
      }
      long left = Math.max(1, timeout.toMillis() - (System.nanoTime() - started) / 1_000_000);
      direct(response.entity().toStrict(left, materializer)).whenComplete((strict, bodyFailure) -> {
        if (bodyFailure != null) {
          result.complete(failed(Attempt.Failure.CONNECTION, "the provider's answer broke off: " + rootMessage(bodyFailure), response.status().intValue(), null, started));
        } else {
          result.complete(classify(response, readJson(strict.getData().toArray()), started));
        }
      });
    });
    return timeLimited(result, Math.max(1, timeout.toMillis())).exceptionally(e -> {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (cause instanceof TimeoutException) {
        return failed(Attempt.Failure.TIMEOUT, "no answer from the provider within " + timeout.toMillis() + " ms", 0, null, started);
      }
      return failed(Attempt.Failure.CONNECTION, rootMessage(cause), 0, null, started);
    });
  }

  /**
   * Forwards one request of a proxy's real-time path: {@code body} goes as the caller wrote it, with
   * only {@code model} set to each route's, to the first route that answers. It moves on to the next
   * route only when no answer came (the route could not be resolved or reached, or sent no response
   * head in the time left) or the answer is a 429 or a 5xx; never once an answer is being read or
   * streamed. Each route is resolved only when it is tried. Never fails: every outcome is a
   * {@link Forwarded}.
   *
   * <p>A {@code stream} request whose answer is a 2xx comes back as {@link Forwarded.Streaming}: the
   * events pass through as they arrive, and the provider is always asked for the final usage chunk
   * ({@code stream_options.include_usage}), which is read on the way. Any other answer is read whole.
   *
   * @param routes  where the request may go, in the order to try them; at least one
   * @param timeout the time allowed for the whole forward until the answer starts (and, for an answer
   *                read whole, until it is read); a stream, once started, runs as long as it runs
   */
  public CompletionStage<Forwarded> forward(Operation operation, ObjectNode body, boolean stream, List<Supplier<CompletionStage<Route>>> routes,
      Duration timeout) {
    return forward(operation, body, null, stream, routes, timeout);
  }

  /**
   * {@link #forward(Operation, ObjectNode, boolean, List, Duration)} with the bytes {@code body} was
   * read from: a route whose model is the one the body names gets these bytes as they are, with no
   * copy of the body and no writing of it (a stream still gets its {@code include_usage} written in).
   *
   * @param asWritten the request's bytes, which {@code body} is the parse of; or null
   */
  public CompletionStage<Forwarded> forward(Operation operation, ObjectNode body, byte[] asWritten, boolean stream,
      List<Supplier<CompletionStage<Route>>> routes, Duration timeout) {
    if (routes.isEmpty()) throw new IllegalArgumentException("a forward needs at least one route");
    return forwardFrom(0, operation, new Outgoing(body, stream ? null : asWritten, stream), routes, System.nanoTime() + timeout.toNanos());
  }

  /**
   * The body a forward sends, as bytes for a route's model: the caller's bytes when the model is the
   * one they name, else a copy with the route's model (and, for a stream, {@code include_usage}).
   */
  private static final class Outgoing {
    private final ObjectNode body;
    private final byte[] asWritten;
    private final String namedModel;
    private final boolean stream;
    private ObjectNode copy;

    Outgoing(ObjectNode body, byte[] asWritten, boolean stream) {
      this.body = body;
      this.asWritten = asWritten;
      JsonNode model = body.get("model");
      this.namedModel = model != null && model.isTextual() ? model.asText() : null;
      this.stream = stream;
    }

    byte[] bytesFor(String model) throws JsonProcessingException {
      if (asWritten != null && model.equals(namedModel)) return asWritten;
      if (copy == null) {
        copy = body.deepCopy();
        if (stream) {
          JsonNode options = copy.get("stream_options");
          ObjectNode streamOptions = options instanceof ObjectNode o ? o : copy.putObject("stream_options");
          streamOptions.put("include_usage", true);
        }
      }
      // Tries run one after another, each written out here at once: the one copy serves them all.
      copy.put("model", model);
      return JSON.writeValueAsBytes(copy);
    }
  }

  private CompletionStage<Forwarded> forwardFrom(int at, Operation operation, Outgoing body,
      List<Supplier<CompletionStage<Route>>> routes, long deadlineNanos) {
    long started = System.nanoTime();
    long left = (deadlineNanos - started) / 1_000_000;
    if (left <= 0) return CompletableFuture.completedFuture(new Forwarded.DeadlinePassed(at));
    boolean lastRoute = at + 1 == routes.size();
    CompletionStage<HttpResponse> head;
    try {
      CompletionStage<Route> route = routes.get(at).get();
      // A route known at once (the usual case) is sent on this thread, without a composed stage.
      CompletableFuture<Route> known = route instanceof CompletableFuture<Route> f && f.isDone() && !f.isCompletedExceptionally() ? f : null;
      head = known != null ? responseHead(known.join(), operation, body, left) : route.thenCompose(r -> responseHead(r, operation, body, left));
    } catch (RuntimeException resolveFailed) {
      head = CompletableFuture.failedFuture(resolveFailed);
    }
    return head.handle((response, failure) -> {
      // Only what another provider may not repeat moves on: no answer, a 429 or a 5xx. Any other
      // 4xx (408 included) goes back as it came, as the OpenAI edge has always answered it.
      boolean another = failure != null || response.status().intValue() == 429 || response.status().intValue() >= 500;
      if (another && !lastRoute) {
        if (response != null) response.discardEntityBytes(materializer);
        return forwardFrom(at + 1, operation, body, routes, deadlineNanos);
      }
      if (failure != null) return CompletableFuture.<Forwarded>completedFuture(unreachable(at, failure));
      return answer(at, body.stream, response, deadlineNanos, started);
    }).thenCompose(next -> next);
  }

  /**
   * The parsed URI of a provider's URL: parsing it per request was a tenth of the forward's own CPU.
   * Providers' URLs are few; the map is emptied should it ever hold more than {@link #MAX_URIS}.
   */
  private Uri uri(String url) {
    Uri known = uris.get(url);
    if (known != null) return known;
    if (uris.size() >= MAX_URIS) uris.clear();
    Uri parsed = Uri.create(url);
    uris.put(url, parsed);
    return parsed;
  }

  /** Sends the request and waits at most {@code timeoutMillis} for the response head; a head that comes later is drained. */
  private CompletionStage<HttpResponse> responseHead(Route route, Operation operation, Outgoing body, long timeoutMillis) {
    ProviderEndpoint endpoint = route.endpoint();
    HttpRequest request;
    try {
      request = HttpRequest.create().withMethod(HttpMethods.POST).withUri(uri(endpoint.baseUrl() + operation.path()))
          .withEntity(ContentTypes.APPLICATION_JSON, body.bytesFor(route.model()));
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    if (endpoint.credential() != null) request = request.addHeader(Authorization.create(HttpCredentials.createOAuth2BearerToken(endpoint.credential())));
    CompletableFuture<HttpResponse> head = new CompletableFuture<>();
    direct(http.singleRequest(request, https, pool, log)).whenComplete((response, failure) -> {
      if (failure != null) head.completeExceptionally(failure);
      else if (!head.complete(response)) response.discardEntityBytes(materializer);
    });
    return timeLimited(head, timeoutMillis);
  }

  /**
   * {@code future}, failed with a {@link TimeoutException} if not complete within {@code millis}: what
   * {@code orTimeout} does, on Pekko's scheduler instead of the JDK's delay queue, whose thread is woken
   * whenever a new timeout becomes its earliest (once a request, at one connection).
   */
  private <T> CompletableFuture<T> timeLimited(CompletableFuture<T> future, long millis) {
    // Pekko's scheduler takes delays up to about 248 days (Int.MaxValue ticks of 10 ms), and none once
    // the system is shutting down: then the JDK's timer does it.
    if (millis > MAX_SCHEDULED_MILLIS) return future.orTimeout(millis, TimeUnit.MILLISECONDS);
    Cancellable timer;
    try {
      timer = scheduler.scheduleOnce(Duration.ofMillis(millis), () -> future.completeExceptionally(new TimeoutException()), dispatcher);
    } catch (IllegalStateException shuttingDown) {
      return future.orTimeout(millis, TimeUnit.MILLISECONDS);
    }
    future.whenComplete((value, failure) -> timer.cancel());
    return future;
  }

  private static final long MAX_SCHEDULED_MILLIS = Duration.ofDays(200).toMillis();

  private CompletionStage<Forwarded> answer(int at, boolean stream, HttpResponse response, long deadlineNanos, long started) {
    StatusCode status = response.status();
    if (stream && status.isSuccess()) {
      SseUsage reader = new SseUsage();
      CompletableFuture<Forwarded.StreamEnd> usage = new CompletableFuture<>();
      Source<ByteString, NotUsed> bytes = response.entity().getDataBytes()
          .map(chunk -> {
            reader.feed(chunk);
            return chunk;
          })
          .watchTermination((mat, done) -> {
            done.whenComplete((d, failure) -> usage.complete(new Forwarded.StreamEnd(reader.usage(), reader.chunks(), failure != null)));
            return mat;
          })
          .mapMaterializedValue(mat -> NotUsed.notUsed());
      return CompletableFuture.completedFuture(new Forwarded.Streaming(at, status, response.entity().getContentType(), bytes, usage));
    }
    // A small answer arrives whole with its head: no stream to run, no stage to wait on.
    if (response.entity() instanceof HttpEntity.Strict strict) return CompletableFuture.completedFuture(answered(at, response, strict, started));
    long left = Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000);
    return direct(response.entity().toStrict(left, materializer)).handle((strict, failure) -> {
      if (failure != null) return new Forwarded.BrokeOff(at, status, reason(failure));
      return answered(at, response, strict, started);
    });
  }

  /**
   * An answer read whole. Its usage is read by a streaming pass over the bytes; the classification
   * (which needs the whole JSON tree) is made only if someone asks for it.
   */
  private static Forwarded.Answered answered(int at, HttpResponse response, HttpEntity.Strict strict, long started) {
    byte[] bytes = strict.getData().toArray();
    long took = System.nanoTime() - started;
    return new Forwarded.Answered(at, response.status(), response.entity().getContentType(), bytes, usageOf(bytes),
        () -> classify(response, readJson(bytes), System.nanoTime() - took));
  }

  /**
   * The top-level {@code usage} object of a JSON answer, read without building the answer's tree
   * (its content is skipped over); empty if the body is not a JSON object or carries no usage object.
   */
  static Optional<Usage> usageOf(byte[] bytes) {
    try (JsonParser p = JSON.getFactory().createParser(bytes)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return Optional.empty();
      Optional<Usage> found = Optional.empty();
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        String name = p.currentName();
        if (p.nextToken() == JsonToken.START_OBJECT && "usage".equals(name)) found = Optional.of(usage(p));
        else p.skipChildren();
      }
      return found;
    } catch (IOException notJson) {
      return Optional.empty();
    }
  }

  /** The counts of a usage object, the parser on its start; a count left out (or not a number) reads 0. */
  private static Usage usage(JsonParser p) throws IOException {
    long prompt = 0;
    long completion = 0;
    for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
      String name = p.currentName();
      JsonToken value = p.nextToken();
      if (value.isScalarValue()) {
        if ("prompt_tokens".equals(name)) prompt = p.getValueAsLong(0);
        else if ("completion_tokens".equals(name)) completion = p.getValueAsLong(0);
      } else {
        p.skipChildren();
      }
    }
    return new Usage(prompt, completion);
  }

  /**
   * {@code stage} as a plain CompletableFuture whose callbacks run where it completes. Pekko's Java
   * API returns Scala's adapter of a Future, whose non-async methods ({@code whenComplete},
   * {@code handle}, {@code thenApply}, ...) run their callback on {@code ForkJoinPool.commonPool()}:
   * a thread hop (a wake-up, and a wait for a free common-pool thread) for every callback. A
   * composition from a plain future relays the result without one.
   */
  static <T> CompletableFuture<T> direct(CompletionStage<T> stage) {
    return CompletableFuture.<Void>completedFuture(null).thenCompose(ignored -> stage);
  }

  private static Forwarded unreachable(int at, Throwable failure) {
    Attempt.Failure kind = rootCause(failure) instanceof TimeoutException ? Attempt.Failure.TIMEOUT : Attempt.Failure.CONNECTION;
    return new Forwarded.Unreachable(at, kind, reason(failure));
  }

  /** A forward's failure in words a proxy can show its caller. */
  private static String reason(Throwable failure) {
    return rootCause(failure) instanceof TimeoutException ? "no answer in time" : rootMessage(failure);
  }

  private static Throwable rootCause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t;
  }

  /** The body as JSON, or null if it is not JSON (the status then says what happened). */
  private static JsonNode readJson(byte[] bytes) {
    try {
      return JSON.readTree(bytes);
    } catch (Exception notJson) {
      return null;
    }
  }

  /** The {@code usage} object of an answer or a stream's chunk, if it carries one; a count it leaves out reads 0. */
  static Optional<Usage> usageOf(JsonNode json) {
    JsonNode u = json == null ? null : json.get("usage");
    if (u == null || !u.isObject()) return Optional.empty();
    return Optional.of(new Usage(u.path("prompt_tokens").asLong(0), u.path("completion_tokens").asLong(0)));
  }

  private static Attempt classify(HttpResponse response, JsonNode json, long started) {
    int status = response.status().intValue();
    if (status >= 200 && status < 300) {
      if (json == null || !json.isObject()) return failed(Attempt.Failure.SERVER_ERROR, "the provider answered " + status + " without a JSON body", status, null, started);
      return new Attempt.Answered(json, usageOf(json).orElse(Usage.NONE), Duration.ofNanos(System.nanoTime() - started));
    }
    Duration retryAfter = response.getHeader("Retry-After").map(h -> parseSeconds(h.value())).orElse(null);
    JsonNode err = json == null ? null : json.path("error");
    String type = err != null && err.hasNonNull("type") ? err.get("type").asText() : null;
    String code = err != null && err.hasNonNull("code") ? err.get("code").asText() : null;
    String message = err != null && err.hasNonNull("message") ? err.get("message").asText() : "the provider answered " + status;
    Attempt.Failure kind;
    if (status == 429) kind = Attempt.Failure.RATE_LIMITED;
    else if (status == 503 || status == 529) kind = Attempt.Failure.OVERLOADED;
    else if (status == 408) kind = Attempt.Failure.TIMEOUT;
    else if (status >= 500) kind = Attempt.Failure.SERVER_ERROR;
    else kind = Attempt.Failure.REJECTED;
    if (type == null) type = kind == Attempt.Failure.REJECTED ? "invalid_request_error" : "provider_error";
    return new Attempt.Failed(kind, new ItemError(type, code, message, status), retryAfter, Duration.ofNanos(System.nanoTime() - started));
  }

  private static Attempt failed(Attempt.Failure kind, String message, int status, Duration retryAfter, long started) {
    String type = kind == Attempt.Failure.REJECTED ? "invalid_request_error" : "provider_unavailable";
    return new Attempt.Failed(kind, new ItemError(type, kind.name().toLowerCase(), message, status), retryAfter,
        Duration.ofNanos(System.nanoTime() - started));
  }

  private static Duration parseSeconds(String value) {
    try {
      long s = Long.parseLong(value.trim());
      return s < 0 ? null : Duration.ofSeconds(s);
    } catch (NumberFormatException httpDate) {
      return null;
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = rootCause(e);
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
