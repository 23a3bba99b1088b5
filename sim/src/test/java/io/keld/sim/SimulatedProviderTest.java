package io.keld.sim;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.io.IOException;

/** The simulated fleet over real HTTP, as an OpenAI client sees it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SimulatedProviderTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "sim-test");
  private final HttpClient http = HttpClient.newHttpClient();
  private final SimulatedProvider fleet = SimulatedProvider.start(system, "127.0.0.1", 0, "simco", List.of("sim-small", "sim-embed"),
      FleetSettings.healthy(2, 2_000, 20));

  @BeforeEach
  void reset() {
    fleet.update(FleetSettings.healthy(2, 2_000, 20));
    fleet.resetStats();
  }

  @AfterAll
  void stop() {
    fleet.close();
    system.terminate();
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(fleet.baseUrl() + path)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String chat(String content, boolean stream) {
    return "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}],\"stream\":" + stream
        + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "") + "}";
  }

  @Test
  void aCompletionIsDeterministicWithHonestUsage() throws Exception {
    HttpResponse<String> first = post("/chat/completions", chat("summarize this", false));
    HttpResponse<String> second = post("/chat/completions", chat("summarize this", false));
    assertEquals(200, first.statusCode(), first.body());
    JsonNode a = JSON.readTree(first.body());
    JsonNode b = JSON.readTree(second.body());
    String content = a.path("choices").get(0).path("message").path("content").asText();
    assertEquals(content, b.path("choices").get(0).path("message").path("content").asText(), "same request, same answer");
    assertEquals(content.split(" ").length, a.path("usage").path("completion_tokens").asInt(), "one token per word sent back");
    assertTrue(a.path("usage").path("prompt_tokens").asInt() > 0);
    assertEquals(a.path("usage").path("prompt_tokens").asInt() + a.path("usage").path("completion_tokens").asInt(),
        a.path("usage").path("total_tokens").asInt());
  }

  @Test
  void aStreamedCompletionSendsTheSameTextAsServerSentEvents() throws Exception {
    String whole = JSON.readTree(post("/chat/completions", chat("stream me", false)).body())
        .path("choices").get(0).path("message").path("content").asText();
    HttpResponse<String> streamed = post("/chat/completions", chat("stream me", true));
    assertEquals(200, streamed.statusCode());
    assertTrue(streamed.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
    StringBuilder text = new StringBuilder();
    JsonNode usage = null;
    List<String> lines = streamed.body().lines().filter(l -> l.startsWith("data: ")).toList();
    assertEquals("data: [DONE]", lines.get(lines.size() - 1));
    for (String line : lines.subList(0, lines.size() - 1)) {
      JsonNode chunk = JSON.readTree(line.substring(6));
      if (chunk.has("usage")) usage = chunk.get("usage");
      for (JsonNode c : chunk.path("choices")) text.append(c.path("delta").path("content").asText(""));
    }
    assertEquals(whole, text.toString());
    assertNotNull(usage, "stream_options.include_usage sends a usage chunk");
    assertEquals(whole.split(" ").length, usage.path("completion_tokens").asInt());
  }

  @Test
  void requestsBeyondTheSlotsAreAnswered429AndNeverServedConcurrently() throws Exception {
    fleet.update(FleetSettings.healthy(2, 200, 50)); // each request holds its slot for ~100-370 ms
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(fleet.baseUrl() + "/chat/completions"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(chat("q" + i, false))).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    int ok = 0;
    int limited = 0;
    for (CompletableFuture<HttpResponse<String>> f : all) {
      HttpResponse<String> r = f.get();
      if (r.statusCode() == 200) ok++;
      if (r.statusCode() == 429) {
        limited++;
        assertEquals("rate_limit_exceeded", JSON.readTree(r.body()).path("error").path("type").asText());
        assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
      }
    }
    assertEquals(12, ok + limited);
    assertTrue(limited > 0, "12 at once on 2 slots: some are refused");
    assertTrue(fleet.stats().maxInFlight() <= 2, "never more than the slots: " + fleet.stats());
    assertEquals(ok, fleet.stats().served());
    assertEquals(limited, fleet.stats().rateLimited());
  }

  @Test
  void theAdminEndpointChangesCapacityAndFaultsAtRunTime() throws Exception {
    HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fleet.port() + "/admin/fleet"))
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(
            "{\"slots\":5,\"tokens_per_second\":1000,\"time_to_first_token_ms\":10,\"error_rate\":1.0,\"stall_rate\":0,\"stall_ms\":0,\"drop_rate\":0}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, put.statusCode(), put.body());
    assertEquals(5, fleet.settings().slots());
    HttpResponse<String> failed = post("/chat/completions", chat("x", false));
    assertEquals(500, failed.statusCode());
    assertEquals("server_error", JSON.readTree(failed.body()).path("error").path("type").asText());

    fleet.update(new FleetSettings(5, 1000, 10, 0, 0, 0, 1.0));
    assertThrows(IOException.class, () -> post("/chat/completions", chat("y", false)), "a dropped connection");

    HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fleet.port() + "/admin/fleet"))
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString("{\"slots\":-1,\"tokens_per_second\":1}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, bad.statusCode());
  }

  @Test
  void embeddingsAndModels() throws Exception {
    HttpResponse<String> e = post("/embeddings", "{\"model\":\"sim-embed\",\"input\":[\"a\",\"b c\"]}");
    assertEquals(200, e.statusCode(), e.body());
    JsonNode body = JSON.readTree(e.body());
    assertEquals(2, body.path("data").size());
    assertEquals(16, body.path("data").get(0).path("embedding").size());
    assertTrue(body.path("usage").path("prompt_tokens").asInt() >= 2);

    HttpResponse<String> models = http.send(HttpRequest.newBuilder(URI.create(fleet.baseUrl() + "/models")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(2, JSON.readTree(models.body()).path("data").size());

    HttpResponse<String> unknown = post("/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertEquals(404, unknown.statusCode());
    assertEquals("model_not_found", JSON.readTree(unknown.body()).path("error").path("code").asText());
  }
}
