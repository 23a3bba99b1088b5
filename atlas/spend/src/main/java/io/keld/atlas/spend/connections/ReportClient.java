package io.keld.atlas.spend.connections;

import java.util.Optional;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.keld.ixp.Texts;
import io.keld.kit.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * GETs one page of a provider's report, trying again on what trying again can cure: a 429 after its
 * {@code Retry-After} (seconds or an HTTP date; without one, as a 5xx), a 5xx or a network error after
 * a backoff that doubles from {@code backoff-min} up to {@code backoff-max}, with jitter. Anything else,
 * and running out of attempts, is a {@link PullFailure}. Runs on the caller's thread and sleeps there:
 * pulls have a thread of their own.
 *
 * <p>Nothing here logs, and no failure message holds the credential: a provider's error text is
 * quoted only after every occurrence of the credential and anything shaped like a key is masked.
 */
final class ReportClient {

  /** A pull step that did not land; {@code message} is for the connection's status. */
  static final class PullFailure extends Exception {
    PullFailure(String message) {
      super(message, null, false, false);
    }
  }

  /** Sleeps; tests pass one that records. */
  interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  /** Floats as BigDecimal: a cost of 0.1 stays 0.1, not 0.1000000000000000055. */
  private static final ObjectReader PAGE_READER = Json.PLAIN.reader().with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
  private static final Pattern KEY_SHAPED = Pattern.compile("(sk-|sk_|key-)[A-Za-z0-9_\\-*.]{4,}");

  private final HttpClient http;
  private final ConnectionSettings settings;
  private final Sleeper sleeper;

  ReportClient(HttpClient http, ConnectionSettings settings, Sleeper sleeper) {
    this.http = http;
    this.settings = settings;
    this.sleeper = sleeper;
  }

  JsonNode get(URI uri, Map<String, String> headers, String credential, String what) throws PullFailure, InterruptedException {
    String lastProblem = null;
    for (int attempt = 1; attempt <= settings.maxAttempts(); attempt++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(settings.requestTimeout()).GET().header("Accept", "application/json");
      headers.forEach(b::header);
      HttpResponse<byte[]> response;
      try {
        response = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      } catch (IOException e) {
        lastProblem = what + ": " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + mask(e.getMessage(), credential));
        if (attempt < settings.maxAttempts()) sleeper.sleep(backoff(attempt));
        continue;
      }
      int status = response.statusCode();
      if (status == 200) {
        try {
          return PAGE_READER.readTree(response.body());
        } catch (IOException e) {
          // A page that is not JSON is not a passing fault: the same bytes would come again.
          throw new PullFailure(what + ": the provider's page is not JSON (" + Texts.clip(firstLine(e), 120) + ")");
        }
      }
      if (status == 401 || status == 403) {
        throw new PullFailure(what + ": the provider refused the credential (HTTP " + status + errorSummary(response.body(), credential)
            + "); it may have been revoked or lack the admin scope: replace the connection");
      }
      if (status == 429) {
        lastProblem = what + ": rate limited (HTTP 429) " + settings.maxAttempts() + " times in a row";
        if (attempt < settings.maxAttempts()) sleeper.sleep(retryAfter(response).orElse(backoff(attempt)));
        continue;
      }
      if (status >= 500) {
        lastProblem = what + ": the provider failed (HTTP " + status + errorSummary(response.body(), credential) + ")";
        if (attempt < settings.maxAttempts()) sleeper.sleep(backoff(attempt));
        continue;
      }
      throw new PullFailure(what + ": the provider answered HTTP " + status + errorSummary(response.body(), credential));
    }
    throw new PullFailure(lastProblem + "; gave up after " + settings.maxAttempts() + " attempts");
  }

  private Duration backoff(int attempt) {
    long min = settings.backoffMin().toMillis();
    long max = settings.backoffMax().toMillis();
    long base = Math.min(max, min << Math.min(20, attempt - 1));
    // Up to a quarter more, so many connections failing together do not come back together.
    return Duration.ofMillis(Math.min(max, base + ThreadLocalRandom.current().nextLong(base / 4 + 1)));
  }

  /** {@code Retry-After} as delay-seconds or an HTTP date, capped at backoff-max. */
  private Optional<Duration> retryAfter(HttpResponse<?> response) {
    return response.headers().firstValue("Retry-After").map(String::strip).flatMap(v -> {
      Duration d;
      try {
        d = Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
      } catch (NumberFormatException notSeconds) {
        try {
          d = Duration.between(Instant.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
          if (d.isNegative()) d = Duration.ZERO;
        } catch (DateTimeParseException notADate) {
          return Optional.empty();
        }
      }
      return Optional.of(d.compareTo(settings.backoffMax()) > 0 ? settings.backoffMax() : d);
    });
  }

  /** {@code , invalid_request_error: <message>} from an OpenAI or Anthropic error body, masked; empty if there is none. */
  static String errorSummary(byte[] body, String credential) {
    try {
      JsonNode n = Json.PLAIN.readTree(body);
      JsonNode error = n.path("error");
      String type = error.path("type").asText("");
      String message = error.path("message").asText("");
      if (type.isEmpty() && message.isEmpty()) return "";
      return ", " + Texts.clip(mask(type + (message.isEmpty() ? "" : ": " + message), credential), 200);
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  /** The text with the credential, and anything shaped like an API key, masked. */
  static String mask(String text, String credential) {
    String t = text;
    if (credential != null && !credential.isEmpty()) t = t.replace(credential, "[credential]");
    return KEY_SHAPED.matcher(t).replaceAll("[key]");
  }

  private static String firstLine(IOException e) {
    String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
    if (m == null) return e.getClass().getSimpleName();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }
}
