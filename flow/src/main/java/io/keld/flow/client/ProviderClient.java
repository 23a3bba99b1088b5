package io.keld.flow.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.flow.Item;
import io.keld.flow.ItemError;
import io.keld.flow.Usage;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;

/**
 * Sends one item to an OpenAI-compatible endpoint over Pekko HTTP's pooled client and classifies
 * what came back. It does not retry: retries go back through the endpoint's pacing pipeline, so a
 * retry waits for a free slot like any other request instead of hammering a busy fleet.
 *
 * <p>Request and response bodies hold content: they are read into memory, handed on, and never
 * logged. Error messages quote only the provider's error object, never the request.
 */
public final class ProviderClient {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Http http;
  private final Materializer materializer;
  private final ConnectionPoolSettings pool;
  private final HttpsConnectionContext https;
  private final org.apache.pekko.event.LoggingAdapter log;

  /**
   * @param maxConnectionsPerHost the pool's connection limit per provider host; the pacing limit
   *                              keeps the real number of requests below it
   */
  public ProviderClient(ActorSystem<?> system, int maxConnectionsPerHost) {
    this.http = Http.get(system);
    this.materializer = Materializer.matFromSystem(system);
    // max-open-requests must be a power of two and above the connections, so a paced request is
    // never refused by the pool itself.
    int open = Integer.highestOneBit(Math.max(2, maxConnectionsPerHost) * 4 - 1) << 1;
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(maxConnectionsPerHost)
        .withMaxOpenRequests(open)
        .withMaxRetries(0);
    this.https = http.defaultClientHttpsContext();
    this.log = system.classicSystem().log();
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
      request = HttpRequest.POST(endpoint.baseUrl() + item.operation().path())
          .withEntity(ContentTypes.APPLICATION_JSON, JSON.writeValueAsBytes(body));
    } catch (Exception e) {
      return CompletableFuture.completedFuture(failed(Attempt.Failure.REJECTED, "the request body could not be written", 0, null, started));
    }
    if (endpoint.credential() != null) request = request.addHeader(Authorization.create(HttpCredentials.createOAuth2BearerToken(endpoint.credential())));

    CompletableFuture<Attempt> result = new CompletableFuture<>();
    http.singleRequest(request, https, pool, log).whenComplete((response, failure) -> {
      if (failure != null) {
        result.complete(failed(Attempt.Failure.CONNECTION, "could not reach the provider: " + rootMessage(failure), 0, null, started));
        return;
      }
      if (result.isDone()) { // timed out already: free the connection
        response.discardEntityBytes(materializer);
        return;
      }
      long left = Math.max(1, timeout.toMillis() - (System.nanoTime() - started) / 1_000_000);
      response.entity().toStrict(left, materializer).whenComplete((strict, bodyFailure) -> {
        if (bodyFailure != null) {
          result.complete(failed(Attempt.Failure.CONNECTION, "the provider's answer broke off: " + rootMessage(bodyFailure), response.status().intValue(), null, started));
        } else {
          result.complete(classify(response, strict.getData().toArray(), started));
        }
      });
    });
    return result.orTimeout(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS).exceptionally(e -> {
      Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
      if (cause instanceof TimeoutException) {
        return failed(Attempt.Failure.TIMEOUT, "no answer from the provider within " + timeout.toMillis() + " ms", 0, null, started);
      }
      return failed(Attempt.Failure.CONNECTION, rootMessage(cause), 0, null, started);
    });
  }

  private static Attempt classify(HttpResponse response, byte[] bytes, long started) {
    int status = response.status().intValue();
    JsonNode json = null;
    try {
      json = JSON.readTree(bytes);
    } catch (Exception notJson) {
      // handled below by status
    }
    if (status >= 200 && status < 300) {
      if (json == null || !json.isObject()) return failed(Attempt.Failure.SERVER_ERROR, "the provider answered " + status + " without a JSON body", status, null, started);
      JsonNode u = json.path("usage");
      long in = u.path("prompt_tokens").asLong(0);
      long out = u.path("completion_tokens").asLong(0);
      return new Attempt.Answered(json, new Usage(in, out), Duration.ofNanos(System.nanoTime() - started));
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
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
