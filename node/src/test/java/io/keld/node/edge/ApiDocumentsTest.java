package io.keld.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.tenancy.Organization;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.node.http.DocsRoutes;
import io.keld.node.testing.DemoWorld;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every route a node serves is in one of its API documents, and every operation of the documents is
 * served; the new documents ({@code trade.openapi.yaml}, {@code node.openapi.yaml}, the additions to
 * {@code atlas.openapi.yaml} and {@code ixp.openapi.yaml}) are checked like the IXP one: their own
 * examples conform, and real answers of a running node conform to the schemas they name; and
 * {@code /docs} serves Swagger UI over the documents in the jar.
 *
 * <p>How the routes are found: the node's route tree is Pekko functions and cannot be listed, so the
 * test probes it over HTTP from the known prefixes ({@code /atlas/v1}, {@code /trade/v1},
 * {@code /ixp/v1}, {@code /v1} with a key of the right kind, and {@code /} without one). The
 * candidate segments are every literal the route classes ({@code *Routes.java}, {@code *Route.java})
 * match on, and a placeholder for an id. A path is served when it is not answered with the
 * "no such route" 404; which methods it takes comes from the {@code Allow} header of the 405 an
 * {@code OPTIONS} gets (no route takes OPTIONS), else from trying each method. Served paths are
 * explored one more segment, and paths that are not served one more literal (two-literal routes like
 * {@code reports/spend}), which finds every route whose literal segments appear in a route class.
 */
class ApiDocumentsTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID = "x1";
  private static final List<String> METHODS = List.of("GET", "POST", "PUT", "PATCH", "DELETE");
  /** A route literal: {@code path("x", …)}, {@code pathPrefix("x", …)}, {@code segment("x")}, {@code slash("x")} (not a JsonNode's {@code path("x")}). */
  private static final Pattern LITERAL = Pattern.compile("(?:(?:pathPrefix|path)\\(\\s*\"([^\"]+)\"\\s*,|(?:segment|slash)\\(\\s*\"([^\"]+)\")");
  /** Two literals matched at once: {@code segment("a").slash("b")}, or a literal and an id, {@code segment("a").slash(PathMatchers.segment())}. */
  private static final Pattern COMPOUND = Pattern.compile("segment\\(\\s*\"([^\"]+)\"\\)\\s*\\.slash\\(\\s*(?:\"([^\"]+)\"|PathMatchers\\.segment\\(\\))");
  /** Literals that a route continues after: {@code pathPrefix("x")} and {@code segment("x").slash(…)}. */
  private static final Pattern PREFIX_LITERAL = Pattern.compile("(?:pathPrefix\\(\\s*\"([^\"]+)\"|segment\\(\\s*\"([^\"]+)\"\\)\\s*\\.slash)");

  private static DemoWorld world;
  private static HttpClient http;
  private static String providerKey;
  private static String operatorKey;
  private static Path specDir;
  private static final Map<String, IxpSpecConformanceTest.Spec> specs = new LinkedHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    Path moduleDir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    specDir = moduleDir.resolve("../ixp/spec").toAbsolutePath().normalize();
    for (String doc : DocsRoutes.OPENAPI_DOCUMENTS) specs.put(doc, IxpSpecConformanceTest.Spec.load(specDir.resolve(doc)));
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    world = DemoWorld.start();
    Governance g = world.node.governance();
    Organization provider = g.tenancy().createOrganization("Probe provider", OrgKind.PROVIDER).toCompletableFuture().get(30, TimeUnit.SECONDS);
    providerKey = g.keys().issue(provider.id(), null, null, Role.ADMIN, "probe", "test").toCompletableFuture().get(30, TimeUnit.SECONDS).secret();
    operatorKey = g.keys().issueOperatorKey(g.tenancy(), "probe").secret();
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) world.close();
  }

  // -- every route in a document, every operation served -------------------------------------------

  /** The paths of the OpenTelemetry port, in the order atlas.openapi.yaml gives them. */
  private static final List<String> OTLP_PATHS = List.of("/v1/traces", "/v1/metrics");

  @Test
  void everyServedRouteIsInADocumentAndEveryDocumentedOperationIsServed() throws Exception {
    Map<String, Set<String>> wordsByLiteral = new LinkedHashMap<>();
    Set<String> prefixes = new TreeSet<>();
    routeLiterals(specDir.resolve("../..").normalize(), wordsByLiteral, prefixes);
    assertTrue(wordsByLiteral.get("").containsAll(List.of("atlas", "connections", "edge-defaults", "books", "models", "docs", "reports/spend")),
        "literals: " + wordsByLiteral.get(""));
    assertTrue(prefixes.containsAll(List.of("chat", "books", "specs", "projects", "teams")), "prefix literals: " + prefixes);
    Map<String, Set<String>> served = new ConcurrentHashMap<>();
    Probe probe = new Probe(served);
    for (String root : List.of("/atlas/v1", "/trade/v1", "/ixp/v1", "/v1", "/docs", "/health", "")) probe.explore(root, wordsByLiteral, prefixes);
    probe.methods("/docs/");
    // What the documents name is probed too, so a documented operation that is not served shows.
    for (IxpSpecConformanceTest.Spec spec : specs.values()) {
      for (Iterator<String> it = spec.doc.path("paths").fieldNames(); it.hasNext(); ) {
        String p = it.next();
        if (!OTLP_PATHS.contains(p)) probe.methods(p.replaceAll("\\{[^}]+}", ID));
      }
    }
    probe.pool.shutdown();
    System.out.println("ApiDocumentsTest: " + probe.requests + " probes; served: " + new TreeMap<>(served));
    assertTrue(served.size() > 40, "the probe found the node's routes: " + served.keySet());

    List<String> undocumented = new ArrayList<>();
    for (Map.Entry<String, Set<String>> e : served.entrySet()) {
      for (String method : e.getValue()) {
        if (documented(method, e.getKey()) == null) undocumented.add(method + " " + e.getKey());
      }
    }
    undocumented.sort(null);
    assertEquals(List.of(), undocumented, "served routes that no API document describes");

    List<String> unserved = new ArrayList<>();
    for (Map.Entry<String, IxpSpecConformanceTest.Spec> s : specs.entrySet()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = s.getValue().doc.path("paths").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> p = it.next();
        if (OTLP_PATHS.contains(p.getKey())) continue;
        String concrete = p.getKey().replaceAll("\\{[^}]+}", ID);
        for (Iterator<String> ms = p.getValue().fieldNames(); ms.hasNext(); ) {
          String m = ms.next().toUpperCase();
          if (!METHODS.contains(m)) continue;
          if (!served.getOrDefault(concrete, Set.of()).contains(m)) unserved.add(m + " " + p.getKey() + " (" + s.getKey() + ")");
        }
      }
    }
    assertEquals(List.of(), unserved, "documented operations the node does not serve");

    // The OTLP port serves exactly POST /v1/traces and POST /v1/metrics, as atlas.openapi.yaml says
    // (the paths it gives the OpenTelemetry port as their server).
    List<String> otlpDocumented = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = specs.get("atlas.openapi.yaml").doc.path("paths").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> p = it.next();
      if (p.getValue().path("servers").toString().contains(":4318")) otlpDocumented.add(p.getKey());
    }
    assertEquals(OTLP_PATHS, otlpDocumented);
    String otlp = "http://127.0.0.1:" + world.node.otlpAddress().orElseThrow().getPort();
    for (String path : OTLP_PATHS) {
      HttpResponse<String> options = send(otlp, "OPTIONS", path, world.tenancy.adminKey(), null, null);
      assertEquals(405, options.statusCode(), path + ": " + options.body());
      assertEquals("POST", options.headers().firstValue("Allow").orElse(""), path);
      assertTrue(specs.get("atlas.openapi.yaml").doc.path("paths").path(path).has("post"), path);
    }
    assertTrue(isNoRoute(send(otlp, "POST", "/v1/logs", world.tenancy.adminKey(), null, null)));
    assertTrue(isNoRoute(send(otlp, "GET", "/v1/metrics-of-nothing", world.tenancy.adminKey(), null, null)));
  }

  /** The document and template that describe {@code method path}, or null. */
  private static String documented(String method, String path) {
    for (Map.Entry<String, IxpSpecConformanceTest.Spec> s : specs.entrySet()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = s.getValue().doc.path("paths").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> p = it.next();
        String regex = Pattern.quote(p.getKey()).replaceAll("\\{[^}]+}", "\\\\E[^/]+\\\\Q");
        // A parameter marked x-keld-rest-of-path takes the rest of the path, slashes and all (model ids like keld/summarize).
        if (p.getValue().toString().contains("x-keld-rest-of-path")) regex = regex.replaceAll("\\[\\^/]\\+\\\\Q\\\\E$", ".+");
        if (path.matches(regex) && p.getValue().has(method.toLowerCase())) return s.getKey() + " " + p.getKey();
      }
    }
    return null;
  }

  /** Probes paths over HTTP, several at a time, and records the methods each serves. */
  private static final class Probe {
    final Map<String, Set<String>> served;
    final Set<String> probed = ConcurrentHashMap.newKeySet();
    final AtomicInteger requests = new AtomicInteger();
    final ExecutorService pool = Executors.newFixedThreadPool(8);

    Probe(Map<String, Set<String>> served) {
      this.served = served;
    }

    /**
     * From {@code root}: a served path that may continue (the root, an id, or a literal some route
     * continues after) is tried one step further with the literals of the route classes that match
     * its last literal (routes nest within one class), each two-literal match of those classes
     * ({@code reports/spend}, {@code books/{id}}), and an id; a literal that only prefixes (teams in
     * {@code teams/{id}}) is tried with an id after it. A path matched by {@code path("x")} ends there.
     */
    void explore(String root, Map<String, Set<String>> wordsByLiteral, Set<String> prefixes) throws Exception {
      List<String> frontier = List.of(root);
      for (int depth = 0; depth < 8 && !frontier.isEmpty(); depth++) {
        List<String> candidates = new ArrayList<>();
        for (String anchor : frontier) {
          // The root's own literal (atlas in /atlas/v1) picks its classes; deeper, the last literal does.
          String literal = anchor.equals(root) ? lastLiteral("/" + root.split("/", 3)[Math.min(1, root.split("/", 3).length - 1)]) : lastLiteral(anchor);
          Set<String> words = new TreeSet<>(wordsByLiteral.getOrDefault(literal, wordsByLiteral.get("")));
          for (String w : words) {
            if (anchor.isEmpty() && Set.of("atlas", "trade", "ixp", "v1").contains(w)) continue; // probed from their own roots, with a key
            candidates.add(anchor + "/" + w);
            if (prefixes.contains(w)) candidates.add(anchor + "/" + w + "/" + ID);
          }
          candidates.add(anchor + "/" + ID);
        }
        Set<String> servedNow = new HashSet<>(probeAll(candidates));
        List<String> next = new ArrayList<>();
        for (String anchor : frontier) {
          // A catch-all (GET /v1/models/{rest of the path}) answers every child: it is one route, not a subtree.
          String two = anchor + "/" + ID + "/" + ID;
          if (servedNow.contains(anchor + "/" + ID) && methods(two) != null) continue;
          for (String p : candidates) {
            if (!servedNow.contains(p) || !p.startsWith(anchor + "/") || p.substring(anchor.length() + 1).contains("/") && !p.endsWith("/" + ID)) continue;
            String last = p.substring(p.lastIndexOf('/') + 1);
            if (last.equals(ID) || prefixes.contains(last)) next.add(p);
          }
        }
        frontier = next.stream().distinct().toList();
      }
    }

    /** The last segment of a path that is not an id; "" for none. */
    private static String lastLiteral(String path) {
      String[] segs = path.split("/");
      for (int i = segs.length - 1; i >= 0; i--) if (!segs[i].isEmpty() && !segs[i].equals(ID)) return segs[i];
      return "";
    }

    /** The served ones of {@code paths}. */
    List<String> probeAll(List<String> paths) throws Exception {
      List<Future<Set<String>>> answers = new ArrayList<>();
      for (String p : paths) answers.add(pool.submit(() -> methods(p)));
      List<String> out = new ArrayList<>();
      for (int i = 0; i < paths.size(); i++) if (answers.get(i).get() != null) out.add(paths.get(i));
      return out;
    }

    /** The methods {@code path} serves, recorded; null when no route matches it. */
    Set<String> methods(String path) throws Exception {
      if (!probed.add(path)) return served.get(path);
      String key = key(path);
      HttpResponse<String> options = send(world.baseUrl, "OPTIONS", path, key, null, null);
      requests.incrementAndGet();
      if (isNoRoute(options)) return null;
      Set<String> methods = new TreeSet<>();
      String allow = options.statusCode() == 405 ? options.headers().firstValue("Allow").orElse("") : "";
      if (!allow.isBlank()) {
        // A method directive outside the path match (get(concat(path("alive"), …))) rejects any path under it:
        // each allowed method is confirmed with a real request.
        for (String m : allow.split(",")) {
          String method = m.strip();
          if (!METHODS.contains(method)) continue;
          HttpResponse<String> r = send(world.baseUrl, method, path, key, method.equals("GET") || method.equals("DELETE") ? null : "{}", "application/json");
          requests.incrementAndGet();
          if (!isNoRoute(r) && r.statusCode() != 405) methods.add(method);
        }
      } else {
        for (String m : METHODS) {
          HttpResponse<String> r = send(world.baseUrl, m, path, key, m.equals("GET") || m.equals("DELETE") ? null : "{}", "application/json");
          requests.incrementAndGet();
          if (!isNoRoute(r) && r.statusCode() != 405) methods.add(m);
        }
      }
      methods.remove("HEAD");
      methods.remove("OPTIONS");
      served.put(path, methods);
      return methods;
    }
  }

  private static String key(String path) {
    if (path.startsWith("/trade/")) return providerKey;
    if (path.startsWith("/atlas/") || path.startsWith("/ixp/") || path.startsWith("/v1/")) return world.tenancy.adminKey();
    return null;
  }

  /** The "no route matched" answer: Pekko's 404 as problem+json, or the OpenAI edge's {@code unknown_url}. */
  private static boolean isNoRoute(HttpResponse<String> r) {
    return r.statusCode() == 404 && (r.body().contains("The requested resource could not be found") || r.body().contains("unknown_url"));
  }

  /**
   * The literals of every route class ({@code *Routes.java}, {@code *Route.java}): for each literal,
   * the literals and two-literal matches of the classes it appears in ({@code ""}: of all classes);
   * and the literals a route continues after ({@code pathPrefix("x")}, {@code segment("x").slash(…)}).
   */
  private static void routeLiterals(Path repo, Map<String, Set<String>> wordsByLiteral, Set<String> prefixes) throws IOException {
    wordsByLiteral.put("", new TreeSet<>());
    try (Stream<Path> files = Files.walk(repo)) {
      for (Path f : files.filter(f -> f.toString().contains("/src/main/java/") && !f.toString().contains("/target/")
          && f.getFileName().toString().matches(".*Routes?\\.java")).toList()) {
        String text = Files.readString(f);
        Set<String> literals = new TreeSet<>();
        Set<String> words = new TreeSet<>();
        Matcher m = LITERAL.matcher(text);
        while (m.find()) {
          String g = m.group(1) != null ? m.group(1) : m.group(2);
          for (String seg : g.split("/")) {
            if (!seg.isBlank()) {
              literals.add(seg);
              words.add(seg);
            }
          }
        }
        Matcher c = COMPOUND.matcher(text);
        while (c.find()) words.add(c.group(1) + "/" + (c.group(2) != null ? c.group(2) : ID));
        Matcher p = PREFIX_LITERAL.matcher(text);
        while (p.find()) prefixes.add(p.group(1) != null ? p.group(1) : p.group(2));
        for (String l : literals) wordsByLiteral.computeIfAbsent(l, k -> new TreeSet<>()).addAll(words);
        wordsByLiteral.get("").addAll(words);
      }
    }
  }

  // -- the documents' own examples ------------------------------------------------------------------

  @Test
  void theDocumentsExamplesConformAndEveryRefResolves() throws Exception {
    for (Map.Entry<String, IxpSpecConformanceTest.Spec> s : specs.entrySet()) {
      s.getValue().checkOwnExamples();
      for (Iterator<String> it = s.getValue().doc.path("components").path("schemas").fieldNames(); it.hasNext(); ) {
        s.getValue().component(it.next());
      }
    }
    IxpSpecConformanceTest.Spec trade = specs.get("trade.openapi.yaml");
    assertTrue(trade.checkOwnExamples() >= 0);
    // The schemas are strict: a price per Mtok as a string is no AskView.
    ObjectNode ask = (ObjectNode) JSON.readTree("""
        {"id":"ask_1","use_case":"summarize","model":"m","price_per_mtok":300000,"quality":80,"throughput_tps":5000,
         "max_concurrency":16,"region":"any","cancel_on_disconnect":false,"state":"open",
         "created_at":"2026-12-01T00:00:00Z","updated_at":"2026-12-01T00:00:00Z"}""");
    trade.assertValid("AskView", ask, "an ask");
    trade.assertInvalid("AskView", ask.deepCopy().put("price_per_mtok", "0.30"), "/price_per_mtok", "a price as a string");
    IxpSpecConformanceTest.Spec atlas = specs.get("atlas.openapi.yaml");
    ObjectNode price = (ObjectNode) JSON.readTree("""
        {"provider":"openai","model":"gpt-4o-mini","token_type":"input","usd_per_mtok":"0.15",
         "effective_from":"2026-01-01T00:00:00Z","origin":"seed"}""");
    atlas.assertValid("PriceEntry", price, "a price");
    atlas.assertInvalid("PriceEntry", price.deepCopy().put("usd_per_mtok", 0.15), "/usd_per_mtok", "a price as a number");
    atlas.assertInvalid("PriceEntry", price.deepCopy().put("usd_per_mtok", "0.150000"), "/usd_per_mtok", "a price with trailing zeros");
  }

  // -- live answers against the documents -----------------------------------------------------------

  @Test
  void tradeAnswersConformToTheTradeDocument() throws Exception {
    IxpSpecConformanceTest.Spec spec = specs.get("trade.openapi.yaml");
    JsonNode endpoint = conforms(spec, "POST", "/trade/v1/endpoints", "/trade/v1/endpoints", providerKey,
        "{\"name\":\"main\",\"base_url\":\"http://127.0.0.1:9/v1\",\"credential\":\"sk-probe-123456\"}", 201);
    conforms(spec, "GET", "/trade/v1/endpoints", "/trade/v1/endpoints", providerKey, null, 200);
    conforms(spec, "GET", "/trade/v1/endpoints/" + endpoint.path("id").asText(), "/trade/v1/endpoints/{endpoint_id}", providerKey, null, 200);
    conforms(spec, "PUT", "/trade/v1/models/probe-8b", "/trade/v1/models/{model}", providerKey, "{\"use_cases\":[\"summarize\"],\"regions\":[\"eu\"]}", 200);
    conforms(spec, "GET", "/trade/v1/models", "/trade/v1/models", providerKey, null, 200);
    conforms(spec, "GET", "/trade/v1/models/probe-8b", "/trade/v1/models/{model}", providerKey, null, 200);
    JsonNode ask = conforms(spec, "POST", "/trade/v1/asks", "/trade/v1/asks", providerKey,
        "{\"model\":\"probe-8b\",\"use_case\":\"summarize\",\"price_per_mtok\":99000000,\"quality\":10,\"throughput_tps\":100,\"region\":\"eu\"}", 201);
    String askPath = "/trade/v1/asks/" + ask.path("id").asText();
    conforms(spec, "GET", "/trade/v1/asks", "/trade/v1/asks", providerKey, null, 200);
    conforms(spec, "GET", askPath, "/trade/v1/asks/{ask_id}", providerKey, null, 200);
    conforms(spec, "PATCH", askPath, "/trade/v1/asks/{ask_id}", providerKey, "{\"price_per_mtok\":98000000}", 200);
    conforms(spec, "GET", "/trade/v1/books/summarize", "/trade/v1/books/{use_case}", providerKey, null, 200);
    conforms(spec, "GET", "/trade/v1/statement", "/trade/v1/statement", providerKey, null, 200);
    conforms(spec, "DELETE", askPath, "/trade/v1/asks/{ask_id}", providerKey, null, 200);
    conforms(spec, "POST", "/trade/v1/asks", "/trade/v1/asks", providerKey, "{\"model\":\"probe-8b\",\"price_per_mtok\":\"cheap\"}", 422);
    conforms(spec, "GET", "/trade/v1/asks/ask_nothing", "/trade/v1/asks/{ask_id}", providerKey, null, 404);
    conforms(spec, "GET", "/trade/v1/endpoints", "/trade/v1/endpoints", world.tenancy.adminKey(), null, 403);
    conforms(spec, "GET", "/trade/v1/endpoints", "/trade/v1/endpoints", null, null, 401);
    conforms(spec, "GET", "/trade/v1/feed", "/trade/v1/feed", providerKey, null, 400);
  }

  @Test
  void atlasAndEdgeAnswersConformToTheirDocuments() throws Exception {
    IxpSpecConformanceTest.Spec atlas = specs.get("atlas.openapi.yaml");
    String admin = world.tenancy.adminKey();
    // The price book answers usd_per_mtok as a decimal string without trailing zeros.
    JsonNode book = conforms(atlas, "GET", "/atlas/v1/price-book", "/atlas/v1/price-book", admin, null, 200);
    assertTrue(book.path("entries").size() > 5);
    JsonNode added = conforms(atlas, "POST", "/atlas/v1/price-book", "/atlas/v1/price-book", operatorKey,
        "{\"provider\":\"probe\",\"model\":\"m\",\"token_type\":\"output\",\"usd_per_mtok\":1.500000}", 201);
    assertEquals("1.5", added.path("usd_per_mtok").asText());

    String project = "/atlas/v1/projects/" + world.tenancy.projectId() + "/edge-defaults";
    String template = "/atlas/v1/projects/{project_id}/edge-defaults";
    conforms(atlas, "PUT", project, template, admin, "{\"use_case\":\"summarize\",\"deadline\":\"PT10M\",\"ceiling_usd_per_mtok\":2}", 200);
    conforms(atlas, "GET", project, template, admin, null, 200);
    conforms(atlas, "PUT", project, template, admin, "{\"use_case\":\"juggle\"}", 422);
    conforms(atlas, "DELETE", project, template, admin, null, 204);
    conforms(atlas, "GET", project, template, admin, null, 404);

    conforms(atlas, "GET", "/atlas/v1/connections", "/atlas/v1/connections", admin, null, 200);
    conforms(atlas, "GET", "/atlas/v1/reports/reconcile", "/atlas/v1/reports/reconcile", admin, null, 200);
    conforms(atlas, "GET", "/atlas/v1/reports/reconcile?from=soon", "/atlas/v1/reports/reconcile", admin, null, 422);
    conforms(atlas, "POST", "/atlas/v1/connections", "/atlas/v1/connections", admin, "{\"provider\":\"nowhere\",\"credential\":\"sk-probe-123456\"}", 422);
    conforms(atlas, "GET", "/atlas/v1/connections", "/atlas/v1/connections", world.tenancy.apiKey(), null, 403);
    conforms(atlas, "GET", "/atlas/v1/connections/conn_00000000000000000000", "/atlas/v1/connections/{connection_id}", admin, null, 404);

    IxpSpecConformanceTest.Spec ixp = specs.get("ixp.openapi.yaml");
    JsonNode model = conforms(ixp, "GET", "/v1/models/keld/summarize", "/v1/models/{model}", world.tenancy.apiKey(), null, 200);
    assertEquals("keld/summarize", model.path("id").asText());
    conforms(ixp, "GET", "/v1/models/no-such-model", "/v1/models/{model}", world.tenancy.apiKey(), null, 404);
  }

  @Test
  void docsServeSwaggerUiOverTheNodesOwnDocuments() throws Exception {
    IxpSpecConformanceTest.Spec node = specs.get("node.openapi.yaml");
    conforms(node, "GET", "/health/alive", "/health/alive", null, null, 200);
    HttpResponse<String> redirect = send(world.baseUrl, "GET", "/docs", null, null, null);
    assertEquals(308, redirect.statusCode());
    assertEquals("/docs/", redirect.headers().firstValue("Location").orElse(""));
    HttpResponse<String> page = send(world.baseUrl, "GET", "/docs/", null, null, null);
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("swagger-ui/swagger-ui-bundle.js") && page.body().contains("specs/trade.openapi.yaml"), page.body());
    HttpResponse<String> bundle = send(world.baseUrl, "GET", "/docs/swagger-ui/swagger-ui-bundle.js", null, null, null);
    assertEquals(200, bundle.statusCode());
    assertTrue(bundle.body().length() > 500_000 && bundle.headers().firstValue("Content-Type").orElse("").contains("javascript"));
    assertEquals(200, send(world.baseUrl, "GET", "/docs/swagger-ui/swagger-ui.css", null, null, null).statusCode());
    for (String doc : DocsRoutes.DOCUMENTS) {
      HttpResponse<String> served = send(world.baseUrl, "GET", "/docs/specs/" + doc, null, null, null);
      assertEquals(200, served.statusCode(), doc);
      assertEquals(Files.readString(specDir.resolve(doc)), served.body(), doc + " is served as it is in the repository");
    }
    conforms(node, "GET", "/docs/specs/keld.conf", "/docs/specs/{document}", null, null, 404);
    conforms(node, "GET", "/docs/swagger-ui/index.html.missing", "/docs/swagger-ui/{file}", null, null, 404);
    assertEquals(404, send(world.baseUrl, "GET", "/docs/swagger-ui/..%2F..%2Fpom.properties", null, null, null).statusCode());
  }

  // -- helpers -----------------------------------------------------------------------------------

  /** Calls, checks the status, and checks the body against the schema the document names for it. */
  private static JsonNode conforms(IxpSpecConformanceTest.Spec spec, String method, String path, String template, String key, String body,
      int status) throws Exception {
    HttpResponse<String> r = send(world.baseUrl, method, path, key, body, body == null ? null : "application/json");
    assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
    List<String> media = spec.mediaTypes(template, method.toLowerCase(), status);
    if (media.isEmpty()) {
      assertTrue(r.body().isEmpty(), method + " " + path + " answers without a body: " + r.body());
      return JSON.nullNode();
    }
    String contentType = r.headers().firstValue("Content-Type").orElse("");
    String mt = media.stream().filter(contentType::startsWith).findFirst()
        .orElseThrow(() -> new AssertionError(method + " " + path + " answered " + contentType + ", the document says " + media));
    JsonNode json = JSON.readTree(r.body());
    spec.assertValid(spec.responseSchema(template, method.toLowerCase(), status, mt), json, method + " " + path + " → " + status);
    return json;
  }

  private static HttpResponse<String> send(String base, String method, String path, String key, String body, String contentType)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (key != null) b.header("Authorization", "Bearer " + key);
    if (contentType != null) b.header("Content-Type", contentType);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    for (int attempt = 1; ; attempt++) {
      try {
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        // A pooled connection the server closed while idle: the request never reached a route.
        if (attempt == 3) throw e;
      }
    }
  }
}
