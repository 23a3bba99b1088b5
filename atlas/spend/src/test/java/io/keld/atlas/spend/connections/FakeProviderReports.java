package io.keld.atlas.spend.connections;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A provider's organization usage and cost APIs on a real HTTP port, in the documented shapes, over a
 * generated dataset of daily buckets: OpenAI's {@code /v1/organization/usage/completions},
 * {@code /usage/embeddings} and {@code /costs} (Unix-second buckets, {@code group_by} repeated,
 * {@code amount.value} a JSON number of USD), or Anthropic's {@code /v1/organizations/usage_report/messages}
 * and {@code /cost_report} (RFC 3339 buckets, {@code group_by[]}, input split into uncached, cache
 * read and cache creation, {@code amount} a decimal string of cents). Both page with {@code limit},
 * {@code has_more} and {@code next_page}; some days have empty buckets. It checks the credential
 * and the query, remembers every bucket it served, and can be told to misbehave: a 429 storm with
 * {@code Retry-After}, a malformed page, a revoked credential, a single 429 or 503.
 */
final class FakeProviderReports implements AutoCloseable {

  enum Flavor { OPENAI, ANTHROPIC }

  /** What the fake served, summed the way the ledger should hold it. */
  record Totals(long inputTokens, long outputTokens, long requests, long costMicroUsd, int usageBuckets, int costBuckets) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  final Flavor flavor;
  final String credential;
  private final HttpServer server;
  /** Per report path, day start to that day's results. */
  private final Map<String, Map<Instant, List<ObjectNode>>> data = new LinkedHashMap<>();
  /** (path, day) of every bucket served. */
  private final Set<String> served = ConcurrentHashMap.newKeySet();
  final List<String> requests = new CopyOnWriteArrayList<>();
  final List<Long> requestTimesMillis = new CopyOnWriteArrayList<>();

  volatile Instant rateLimitFrom;
  volatile Instant malformedFrom;
  volatile boolean revoked;
  volatile int rateLimitOnce;
  volatile int serverErrorOnce;

  FakeProviderReports(Flavor flavor, String credential, Instant today, long seed) throws IOException {
    this.flavor = flavor;
    this.credential = credential;
    generate(today, new Random(seed));
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newFixedThreadPool(2));
    server.createContext("/", this::handle);
    server.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  // ---- the dataset -------------------------------------------------------------------------------

  private void generate(Instant today, Random rnd) {
    for (int back = 45; back >= -1; back--) {
      Instant day = today.minus(back, ChronoUnit.DAYS);
      boolean quiet = Math.floorMod(back, 9) == 4;
      if (flavor == Flavor.OPENAI) {
        List<ObjectNode> completions = new ArrayList<>();
        List<ObjectNode> embeddings = new ArrayList<>();
        List<ObjectNode> costs = new ArrayList<>();
        if (!quiet) {
          for (String project : List.of("proj_alpha", "proj_beta")) {
            for (String model : List.of("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06")) {
              if (rnd.nextInt(10) < 3) continue;
              long input = 1_000 + rnd.nextInt(2_000_000);
              ObjectNode r = F.objectNode().put("object", "organization.usage.completions.result").put("input_tokens", input)
                  .put("input_cached_tokens", input / (2 + rnd.nextInt(5))).put("output_tokens", 100 + rnd.nextInt(300_000))
                  .put("input_audio_tokens", 0).put("output_audio_tokens", 0).put("num_model_requests", 1 + rnd.nextInt(5_000))
                  .put("project_id", project).put("model", model).put("api_key_id", "key_" + project.substring(5))
                  .put("batch", rnd.nextBoolean()).put("service_tier", "default");
              r.putNull("user_id");
              completions.add(r);
              for (String kind : List.of("input", "output")) {
                costs.add(F.objectNode().put("object", "organization.costs.result")
                    .<ObjectNode>set("amount", F.objectNode().put("value", money(rnd, 6, 40)).put("currency", "usd"))
                    .put("line_item", model + ", " + kind).put("project_id", project));
              }
            }
          }
          if (rnd.nextBoolean()) {
            ObjectNode e = F.objectNode().put("object", "organization.usage.embeddings.result").put("input_tokens", 10_000 + rnd.nextInt(900_000))
                .put("num_model_requests", 1 + rnd.nextInt(200)).put("project_id", "proj_alpha").put("model", "text-embedding-3-small")
                .put("api_key_id", "key_alpha");
            e.putNull("user_id");
            embeddings.add(e);
          }
        }
        put("/v1/organization/usage/completions", day, completions);
        put("/v1/organization/usage/embeddings", day, embeddings);
        put("/v1/organization/costs", day, costs);
      } else {
        List<ObjectNode> messages = new ArrayList<>();
        List<ObjectNode> costs = new ArrayList<>();
        if (!quiet) {
          for (String workspace : List.of("wrkspc_red", "wrkspc_blue")) {
            for (String model : List.of("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001")) {
              if (rnd.nextInt(10) < 3) continue;
              messages.add(F.objectNode().put("uncached_input_tokens", 500 + rnd.nextInt(1_500_000))
                  .<ObjectNode>set("cache_creation", F.objectNode().put("ephemeral_1h_input_tokens", rnd.nextInt(50_000))
                      .put("ephemeral_5m_input_tokens", rnd.nextInt(80_000)))
                  .put("cache_read_input_tokens", rnd.nextInt(400_000)).put("output_tokens", 100 + rnd.nextInt(250_000))
                  .<ObjectNode>set("server_tool_use", F.objectNode().put("web_search_requests", rnd.nextInt(20)))
                  .put("api_key_id", "apikey_" + workspace.substring(7)).put("workspace_id", workspace).put("model", model)
                  .put("service_tier", "standard").put("context_window", "0-200k"));
              for (String tokenType : List.of("uncached_input_tokens", "output_tokens")) {
                costs.add(F.objectNode().put("currency", "USD").put("amount", money(rnd, 4, 4_000).toPlainString())
                    .put("workspace_id", workspace).put("description", model + " usage - " + tokenType).put("cost_type", "tokens")
                    .put("context_window", "0-200k").put("model", model).put("service_tier", "standard").put("token_type", tokenType));
              }
            }
          }
        }
        put("/v1/organizations/usage_report/messages", day, messages);
        put("/v1/organizations/cost_report", day, costs);
      }
    }
  }

  /** An amount with up to {@code scale} decimals, below {@code max}. */
  private static BigDecimal money(Random rnd, int scale, int max) {
    return BigDecimal.valueOf(rnd.nextLong(max * (long) Math.pow(10, scale)), scale);
  }

  private void put(String path, Instant day, List<ObjectNode> results) {
    data.computeIfAbsent(path, k -> new LinkedHashMap<>()).put(day, results);
  }

  /** Sums over every bucket served so far (each once, however often it was served). */
  Totals servedTotals() {
    long in = 0, out = 0, requests = 0, cost = 0;
    int usageBuckets = 0, costBuckets = 0;
    for (Map.Entry<String, Map<Instant, List<ObjectNode>>> report : data.entrySet()) {
      boolean costReport = report.getKey().contains("cost");
      for (Map.Entry<Instant, List<ObjectNode>> day : report.getValue().entrySet()) {
        if (!served.contains(report.getKey() + "|" + day.getKey())) continue;
        if (costReport) costBuckets++;
        else usageBuckets++;
        for (ObjectNode r : day.getValue()) {
          if (flavor == Flavor.OPENAI) {
            if (costReport) {
              cost += r.path("amount").path("value").decimalValue().movePointRight(6).setScale(0, RoundingMode.HALF_UP).longValueExact();
            } else {
              in += r.path("input_tokens").asLong();
              out += r.path("output_tokens").asLong();
              requests += r.path("num_model_requests").asLong();
            }
          } else if (costReport) {
            cost += new BigDecimal(r.path("amount").asText()).movePointRight(4).setScale(0, RoundingMode.HALF_UP).longValueExact();
          } else {
            in += r.path("uncached_input_tokens").asLong() + r.path("cache_read_input_tokens").asLong()
                + r.path("cache_creation").path("ephemeral_1h_input_tokens").asLong()
                + r.path("cache_creation").path("ephemeral_5m_input_tokens").asLong();
            out += r.path("output_tokens").asLong();
          }
        }
      }
    }
    return new Totals(in, out, requests, cost, usageBuckets, costBuckets);
  }

  /** {input tokens, output tokens, cost in micro-USD} of one day's buckets, as served or not. */
  long[] day(Instant day) {
    long in = 0, out = 0, cost = 0;
    for (Map.Entry<String, Map<Instant, List<ObjectNode>>> report : data.entrySet()) {
      boolean costReport = report.getKey().contains("cost");
      for (ObjectNode r : report.getValue().getOrDefault(day, List.of())) {
        if (flavor == Flavor.OPENAI) {
          if (costReport) cost += r.path("amount").path("value").decimalValue().movePointRight(6).setScale(0, RoundingMode.HALF_UP).longValueExact();
          else {
            in += r.path("input_tokens").asLong();
            out += r.path("output_tokens").asLong();
          }
        } else if (costReport) {
          cost += new BigDecimal(r.path("amount").asText()).movePointRight(4).setScale(0, RoundingMode.HALF_UP).longValueExact();
        } else {
          in += r.path("uncached_input_tokens").asLong() + r.path("cache_read_input_tokens").asLong()
              + r.path("cache_creation").path("ephemeral_1h_input_tokens").asLong()
              + r.path("cache_creation").path("ephemeral_5m_input_tokens").asLong();
          out += r.path("output_tokens").asLong();
        }
      }
    }
    return new long[] {in, out, cost};
  }

  /** Cost in micro-USD served for one grouping value (OpenAI project, Anthropic workspace) over served buckets. */
  long servedUsageInputFor(String groupValue) {
    long in = 0;
    for (Map.Entry<String, Map<Instant, List<ObjectNode>>> report : data.entrySet()) {
      if (report.getKey().contains("cost")) continue;
      for (Map.Entry<Instant, List<ObjectNode>> day : report.getValue().entrySet()) {
        if (!served.contains(report.getKey() + "|" + day.getKey())) continue;
        for (ObjectNode r : day.getValue()) {
          String group = flavor == Flavor.OPENAI ? r.path("project_id").asText() : r.path("workspace_id").asText();
          if (!group.equals(groupValue)) continue;
          in += flavor == Flavor.OPENAI ? r.path("input_tokens").asLong()
              : r.path("uncached_input_tokens").asLong() + r.path("cache_read_input_tokens").asLong()
                  + r.path("cache_creation").path("ephemeral_1h_input_tokens").asLong()
                  + r.path("cache_creation").path("ephemeral_5m_input_tokens").asLong();
        }
      }
    }
    return in;
  }

  // ---- the API -----------------------------------------------------------------------------------

  private void handle(HttpExchange ex) throws IOException {
    try {
      requests.add(ex.getRequestURI().toString());
      requestTimesMillis.add(System.currentTimeMillis());
      String path = ex.getRequestURI().getPath();
      Map<String, List<String>> q = query(ex.getRequestURI().getRawQuery());
      if (!authorized(ex)) {
        error(ex, 401, "authentication_error", "invalid x-api-key or bearer token");
        return;
      }
      if (revoked) {
        // Real providers quote part of the key back; Keld must not keep even that.
        error(ex, 401, "invalid_request_error", "Incorrect API key provided: " + credential.substring(0, 10) + "****"
            + credential.substring(credential.length() - 4) + ". The key was revoked.");
        return;
      }
      if (serverErrorOnce > 0) {
        serverErrorOnce--;
        error(ex, 503, "overloaded_error", "try again");
        return;
      }
      if (rateLimitOnce > 0) {
        rateLimitOnce--;
        ex.getResponseHeaders().add("Retry-After", "1");
        error(ex, 429, "rate_limit_error", "slow down");
        return;
      }
      Map<Instant, List<ObjectNode>> report = data.get(path);
      if (report == null) {
        error(ex, 404, "not_found_error", "no such endpoint " + path);
        return;
      }
      Instant start;
      Instant end;
      String groupBy = flavor == Flavor.OPENAI ? "group_by" : "group_by[]";
      List<String> expectedGroups = switch (path) {
        case "/v1/organization/usage/completions" -> List.of("project_id", "model", "api_key_id", "batch", "service_tier");
        case "/v1/organization/usage/embeddings" -> List.of("project_id", "model", "api_key_id");
        case "/v1/organization/costs" -> List.of("project_id", "line_item");
        case "/v1/organizations/usage_report/messages" -> List.of("workspace_id", "model", "api_key_id", "service_tier", "context_window");
        default -> List.of("workspace_id", "description");
      };
      if (!q.getOrDefault(groupBy, List.of()).containsAll(expectedGroups) || !"1d".equals(one(q, "bucket_width"))) {
        error(ex, 400, "invalid_request_error", "expected " + groupBy + "=" + expectedGroups + " and bucket_width=1d, got " + q);
        return;
      }
      try {
        if (flavor == Flavor.OPENAI) {
          start = Instant.ofEpochSecond(Long.parseLong(one(q, "start_time")));
          end = Instant.ofEpochSecond(Long.parseLong(one(q, "end_time")));
        } else {
          start = Instant.parse(one(q, "starting_at"));
          end = Instant.parse(one(q, "ending_at"));
        }
      } catch (RuntimeException e) {
        error(ex, 400, "invalid_request_error", "bad time range: " + q);
        return;
      }
      int limit = Integer.parseInt(q.getOrDefault("limit", List.of("7")).get(0));
      String page = one(q, "page");
      if (rateLimitFrom != null && !start.isBefore(rateLimitFrom)) {
        ex.getResponseHeaders().add("Retry-After", "1");
        error(ex, 429, "rate_limit_error", "Rate limit reached for requests");
        return;
      }
      if (malformedFrom != null && !start.isBefore(malformedFrom) && page != null) {
        send(ex, 200, "{\"object\":\"page\",\"data\":[{\"object\":\"bucket\",\"start_time\":17");
        return;
      }
      List<Instant> days = new ArrayList<>();
      for (Instant day : report.keySet()) {
        if (!day.isBefore(start) && day.isBefore(end)) days.add(day);
      }
      Collections.sort(days);
      int offset = 0;
      if (page != null) {
        try {
          offset = Integer.parseInt(new String(Base64.getUrlDecoder().decode(page), StandardCharsets.UTF_8).substring(5));
        } catch (RuntimeException e) {
          error(ex, 400, "invalid_request_error", "unknown page token");
          return;
        }
      }
      ArrayNode buckets = F.arrayNode();
      int until = Math.min(days.size(), offset + limit);
      for (int i = offset; i < until; i++) {
        Instant day = days.get(i);
        ObjectNode b = F.objectNode();
        if (flavor == Flavor.OPENAI) {
          b.put("object", "bucket").put("start_time", day.getEpochSecond()).put("end_time", day.plus(1, ChronoUnit.DAYS).getEpochSecond());
        } else {
          b.put("starting_at", day.toString()).put("ending_at", day.plus(1, ChronoUnit.DAYS).toString());
        }
        ArrayNode results = b.putArray("results");
        report.get(day).forEach(results::add);
        buckets.add(b);
        served.add(path + "|" + day);
      }
      ObjectNode body = F.objectNode();
      if (flavor == Flavor.OPENAI) body.put("object", "page");
      body.set("data", buckets);
      boolean more = until < days.size();
      body.put("has_more", more);
      if (more) body.put("next_page", Base64.getUrlEncoder().encodeToString(("page_" + until).getBytes(StandardCharsets.UTF_8)));
      else body.putNull("next_page");
      send(ex, 200, JSON.writeValueAsString(body));
    } catch (RuntimeException e) {
      error(ex, 500, "api_error", e.toString());
    }
  }

  private boolean authorized(HttpExchange ex) {
    if (flavor == Flavor.OPENAI) return ("Bearer " + credential).equals(ex.getRequestHeaders().getFirst("Authorization"));
    return credential.equals(ex.getRequestHeaders().getFirst("x-api-key"))
        && "2023-06-01".equals(ex.getRequestHeaders().getFirst("anthropic-version"));
  }

  private static String one(Map<String, List<String>> q, String name) {
    List<String> v = q.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  private static Map<String, List<String>> query(String raw) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    if (raw == null) return out;
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
    return out;
  }

  private static void error(HttpExchange ex, int status, String type, String message) throws IOException {
    ObjectNode body = F.objectNode();
    body.set("error", F.objectNode().put("type", type).put("message", message));
    send(ex, status, JSON.writeValueAsString(body));
  }

  private static void send(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }
}
