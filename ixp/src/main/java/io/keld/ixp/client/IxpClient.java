package io.keld.ixp.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.keld.ixp.jobs.JobPage;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.ixp.jobs.QuoteResource;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.function.Consumer;

/**
 * The Inference eXchange Protocol from Java: the library form of {@code /ixp/v1}
 * ({@code ixp/spec/ixp.openapi.yaml}). Quote, submit (with an {@code Idempotency-Key}), get, list,
 * cancel and follow jobs; stream a job's items and read their results as they arrive.
 *
 * <p>Needs nothing but the JDK and Jackson. Thread-safe; one client can serve many jobs.
 *
 * <pre>{@code
 * IxpClient ixp = IxpClient.create(URI.create("http://localhost:8080"), System.getenv("KELD_API_KEY"));
 * IxpClient.Submitted s = ixp.submit(new JobSubmission("summarize", null, null, "PT2H", new BigDecimal("2"),
 *     40_000L, null, null, null, null, null, null), "nightly-2026-12-06");
 * ixp.upload(s.job().id(), IxpClient.ResultFormat.KELD, sink -> {
 *   for (String line : lines) sink.send(line.getBytes(UTF_8));
 * }, result -> System.out.println(result));
 * }</pre>
 *
 * <p><b>Resume.</b> An upload whose connection drops leaves the job running. Upload again with only
 * the items that have no result yet (results carry their {@code custom_id}): the job completes when an
 * upload ends with every item of it answered.
 */
public final class IxpClient {

  /** The protocol's JSON: snake_case, RFC 3339 times; members this version does not know are skipped (forward compatible). */
  public static final ObjectMapper JSON = JsonMapper.builder()
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .addModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .serializationInclusion(JsonInclude.Include.NON_NULL)
      .build();

  /** How the node writes result lines: Keld's {@code ResultLine}s, or OpenAI Batch output lines. */
  public enum ResultFormat {
    KELD("keld"),
    OPENAI("openai");

    private final String wire;

    ResultFormat(String wire) {
      this.wire = wire;
    }

    public String wire() {
      return wire;
    }
  }

  /** Where an upload writes its items: one JSON object per call, without the newline. */
  public interface ItemSink {
    void send(byte[] line) throws IOException;

    /** Pushes what is buffered to the node now (e.g. before waiting on something). */
    void flush() throws IOException;
  }

  /** Writes an upload's items; runs on a thread of its own, blocking while the node does not read. */
  @FunctionalInterface
  public interface ItemSource {
    void writeTo(ItemSink sink) throws IOException;
  }

  /** A submission's answer: the job, and whether this call created it (false: the idempotency key found it). */
  public record Submitted(JobResource job, boolean created) {}

  private final URI base;
  private final String apiKey;
  private final HttpClient http;

  private IxpClient(URI base, String apiKey, HttpClient http) {
    String b = base.toString();
    this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
    this.apiKey = apiKey;
    this.http = http;
  }

  /** A client of the node at {@code base} (e.g. {@code http://localhost:8080}) acting with {@code apiKey}. */
  public static IxpClient create(URI base, String apiKey) {
    return new IxpClient(base, apiKey, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
  }

  public URI base() {
    return base;
  }

  /** {@code POST /ixp/v1/quotes}: what the job would clear at now; commits nothing. */
  public QuoteResource quote(JobSubmission submission) throws IOException, InterruptedException {
    return JSON.treeToValue(call("POST", "/ixp/v1/quotes", body(submission), null).body, QuoteResource.class);
  }

  /**
   * {@code POST /ixp/v1/jobs}. The same key with the same submission returns the same job (so a
   * client that lost the answer can ask again); the same key with another submission is a 409.
   */
  public Submitted submit(JobSubmission submission, String idempotencyKey) throws IOException, InterruptedException {
    Answer a = call("POST", "/ixp/v1/jobs", body(submission), idempotencyKey);
    return new Submitted(JSON.treeToValue(a.body, JobResource.class), a.status == 201);
  }

  /** The exact JSON text a submission is sent as; the node compares it for an idempotency key. */
  public static String body(JobSubmission submission) throws IOException {
    return JSON.writeValueAsString(submission);
  }

  public JobResource get(String jobId) throws IOException, InterruptedException {
    return JSON.treeToValue(call("GET", "/ixp/v1/jobs/" + segment(jobId), null, null).body, JobResource.class);
  }

  /** {@code GET /ixp/v1/jobs} with filters (state, use_case, project_id, limit, cursor, …). */
  public JobPage list(Map<String, String> query) throws IOException, InterruptedException {
    StringJoiner q = new StringJoiner("&", "?", "").setEmptyValue("");
    query.forEach((k, v) -> q.add(URLEncoder.encode(k, StandardCharsets.UTF_8) + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8)));
    return JSON.treeToValue(call("GET", "/ixp/v1/jobs" + q, null, null).body, JobPage.class);
  }

  public JobResource cancel(String jobId) throws IOException, InterruptedException {
    return JSON.treeToValue(call("POST", "/ixp/v1/jobs/" + segment(jobId) + "/cancel", null, null).body, JobResource.class);
  }

  /**
   * Follows {@code GET /ixp/v1/jobs/{id}/events}: calls {@code onChange} with the job now and after
   * every change, and returns the last one once the job has ended and settled.
   *
   * @throws IOException if the stream broke off before the end (follow again to go on)
   */
  public JobResource follow(String jobId, Consumer<JobResource> onChange) throws IOException, InterruptedException {
    HttpRequest request = request("/ixp/v1/jobs/" + segment(jobId) + "/events").header("Accept", "text/event-stream").GET().build();
    HttpResponse<InputStream> r = send(request, HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() >= 400) {
      try (InputStream in = r.body()) {
        throw problem(r.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    JobResource last = null;
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String event = null;
      StringBuilder data = new StringBuilder();
      for (String line; (line = reader.readLine()) != null; ) {
        if (line.isEmpty()) {
          if (data.length() > 0) {
            JobResource job = JSON.readValue(data.toString(), JobResource.class);
            if ("end".equals(event)) return job;
            last = job;
            onChange.accept(job);
          }
          event = null;
          data.setLength(0);
        } else if (line.startsWith("event:")) {
          event = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          if (data.length() > 0) data.append('\n');
          data.append(line.substring(5).stripLeading());
        }
      }
    }
    throw new IOException("the event stream of " + jobId + " ended before the job did" + (last != null ? " (last seen " + last.state() + ")" : ""));
  }

  /**
   * {@code POST /ixp/v1/jobs/{id}/items}: writes the items with {@code items} (on a thread of its
   * own) while calling {@code onResult} with every result line as it arrives, on the calling thread.
   * Returns when the node has answered the upload; throws if the connection dropped first (resume
   * with the items that have no result).
   */
  public void upload(String jobId, ResultFormat format, ItemSource items, Consumer<String> onResult) throws IOException {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Authorization", "Bearer " + apiKey);
    headers.put("Content-Type", "application/x-ndjson");
    headers.put("Accept", "application/x-ndjson");
    headers.put("User-Agent", "keld-ixp-java");
    URI uri = URI.create(base + "/ixp/v1/jobs/" + segment(jobId) + "/items?format=" + format.wire());
    DuplexUpload.Refusal refused;
    try {
      refused = DuplexUpload.post(uri, headers, items, onResult);
    } catch (ConnectException e) {
      throw new ConnectException("cannot reach Keld at " + base + " (" + e.getMessage() + ")");
    }
    if (refused != null) throw problem(refused.status(), refused.body());
  }

  // -- plumbing ---------------------------------------------------------------------------------

  private record Answer(int status, JsonNode body) {}

  private Answer call(String method, String path, String json, String idempotencyKey) throws IOException, InterruptedException {
    HttpRequest.Builder b = request(path).timeout(Duration.ofSeconds(60)).header("Accept", "application/json");
    if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
    if (json != null) {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<String> r = send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() >= 400) throw problem(r.statusCode(), r.body());
    return new Answer(r.statusCode(), r.body().isBlank() ? JSON.nullNode() : JSON.readTree(r.body()));
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + apiKey).header("User-Agent", "keld-ixp-java");
  }

  private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException, InterruptedException {
    try {
      return http.send(request, handler);
    } catch (ConnectException e) {
      throw new ConnectException("cannot reach Keld at " + base + " (is a node running? set KELD_URL)");
    }
  }

  private static IxpException problem(int status, String body) {
    try {
      JsonNode p = JSON.readTree(body);
      if (p != null && p.isObject()) {
        return new IxpException(status, p.path("type").asText(null), p.path("detail").asText(p.path("title").asText(null)),
            p.path("field").asText(null), p.path("job_id").asText(null));
      }
    } catch (IOException notJson) {
      // shown as it came
    }
    return new IxpException(status, null, body == null || body.isBlank() ? "HTTP " + status : body.strip(), null, null);
  }

  private static String segment(String id) {
    return URLEncoder.encode(id, StandardCharsets.UTF_8);
  }
}
