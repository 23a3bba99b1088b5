package io.keld.node.edge;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Collections.singletonMap;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.budget.BudgetPeriod;
import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.node.testing.DemoWorld;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * Hostile and malformed input against a real node's HTTP edge (the {@link DemoWorld}): several
 * hundred generated requests to {@code /ixp/v1}, {@code /v1} and {@code /atlas/v1}, each of which
 * must get a 4xx (never a 5xx, never a hang) in the route's error shape: problem+json with
 * {@code type}, {@code title}, {@code status} and {@code detail} (and {@code field} where one member
 * is to blame), or OpenAI's {@code {"error": {...}}}. Bad ndjson lines on the data plane get their
 * own error lines. Afterwards the node must still be ready and serve valid requests.
 *
 * <p>Cases are data (route, name, request, expectation); generation is seeded, so every run sends
 * the same requests. All failures are collected and reported together, each naming its case.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BadInputTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  /** An error answer is small: it never echoes a request body or a value in full. */
  private static final int MAX_ERROR_BYTES = 64 * 1024;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String JOBS = "/ixp/v1/jobs";
  private static final String QUOTES = "/ixp/v1/quotes";
  private static final String CHAT = "/v1/chat/completions";
  private static final String EMBED = "/v1/embeddings";
  private static final String ITEMS = "POST /ixp/v1/jobs/{id}/items";
  private static final String ITEM = "{\"custom_id\":\"c1\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8}}\n";
  /** A valid job submission, member by member as raw JSON, so a case can put any text in one member. */
  private static final Map<String, String> SUBMISSION = Map.of("use_case", "\"chat\"", "deadline", "\"PT10M\"",
      "ceiling_usd_per_mtok", "1", "estimated_tokens", "1000");
  private static final Map<String, String> CHAT_BODY = Map.of("model", "\"keld/chat\"",
      "messages", "[{\"role\":\"user\",\"content\":\"hi\"}]", "max_tokens", "16");
  private static final Map<String, String> EMBED_BODY = Map.of("model", "\"keld/embed\"", "input", "\"hello\"");

  private static DemoWorld world;
  private static HttpClient http;
  private static String key, adminKey, readOnlyKey, providerKey, revokedKey, otherProject, otherJob;
  private static String openJob, endedJob, roCancelJob, roItemsJob;
  private static final Map<String, Integer> counts = new TreeMap<>();
  private static final List<String> failures = new ArrayList<>();

  enum Shape { PROBLEM, OPENAI }

  /** One request and what must come back: a 4xx of {@code shape}; exactly {@code status} and {@code field} when set. */
  static final class Case {
    final String route, name;
    final Shape shape;
    final Map<String, String> headers = new LinkedHashMap<>();
    String method = "GET", path, field;
    byte[] body;
    boolean chunked;
    int status;

    Case(String route, String name, Shape shape) {
      this.route = route;
      this.name = name;
      this.shape = shape;
      headers.put("Authorization", "Bearer " + key);
    }

    Case to(String method, String path) { this.method = method; this.path = path; return this; }
    Case header(String name, String value) { headers.put(name, value); return this; }
    Case auth(String value) { if (value == null) headers.remove("Authorization"); else headers.put("Authorization", value); return this; }
    Case key(String k) { return auth("Bearer " + k); }
    Case json(String text) { return body("application/json", text.getBytes(UTF_8)); }
    Case body(String type, byte[] bytes) {
      headers.remove("Content-Type");
      if (type != null) headers.put("Content-Type", type);
      body = bytes;
      return this;
    }
    Case ndjson() { return body("application/x-ndjson", ITEM.getBytes(UTF_8)); }
    Case chunked() { chunked = true; return this; }
    Case expect(int status) { this.status = status; return this; }
    Case expect(int status, String field) { this.field = field; return expect(status); }
  }

  // -- the node, its tenants and a few jobs ------------------------------------------------------

  @BeforeAll
  static void startTheWorld() throws Exception {
    world = DemoWorld.start();
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
    Governance atlas = world.node.governance();
    var t = world.tenancy;
    key = t.apiKey();
    adminKey = t.adminKey();
    readOnlyKey = get(atlas.keys().issue(t.orgId(), t.teamId(), t.projectId(), Role.READ_ONLY, "bad-input-ro", "test")).secret();
    KeyStore.IssuedKey revoked = get(atlas.keys().issue(t.orgId(), t.teamId(), t.projectId(), Role.MEMBER, "bad-input-revoked", "test"));
    get(atlas.keys().revoke(revoked.key().id()));
    revokedKey = revoked.secret();
    Organization provider = get(atlas.tenancy().createOrganization("BadInput provider " + UUID.randomUUID(), OrgKind.PROVIDER));
    providerKey = get(atlas.keys().issue(provider.id(), null, null, Role.PROVIDER, "bad-input-provider", "test")).secret();
    Organization other = get(atlas.tenancy().createOrganization("BadInput other " + UUID.randomUUID(), OrgKind.ENTERPRISE));
    Team team = get(atlas.tenancy().createTeam(other.id(), "other"));
    Project project = get(atlas.tenancy().createProject(team, "other"));
    get(atlas.budgets().setBudget(team.id(), project.id(), ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.MONTH, 100_000_000L, 80_000_000L, null)));
    String otherKey = get(atlas.keys().issue(other.id(), team.id(), project.id(), Role.ADMIN, "bad-input-other", "test")).secret();
    otherProject = project.id();
    otherJob = submitJob(otherKey, null);
    openJob = submitJob(key, null);
    roCancelJob = submitJob(key, null);
    roItemsJob = submitJob(key, null);
    endedJob = submitJob(key, null);
    var cancelled = send(new Case("setup", "cancel", Shape.PROBLEM).to("POST", JOBS + "/" + endedJob + "/cancel"));
    assertEquals(200, cancelled.statusCode(), "setup: cancelling " + endedJob);
    submitJob(key, "bad-input-idempotency");
  }

  @AfterAll
  static void stopTheWorld() throws Exception {
    int total = counts.values().stream().mapToInt(Integer::intValue).sum();
    System.out.println("BadInputTest: " + total + " cases, " + failures.size() + " failed; by route: " + counts);
    if (world != null) world.close();
  }

  // -- the tests --------------------------------------------------------------------------------

  @Test
  @Order(1)
  void everyBadRequestGetsA4xxInItsRoutesShape() {
    List<Case> cases = cases();
    List<String> failed = new ArrayList<>();
    for (Case c : cases) {
      counts.merge(c.route, 1, Integer::sum);
      String problem = run(c);
      if (problem != null) failed.add(problem);
    }
    failures.addAll(failed);
    assertTrue(cases.size() >= 400, "at least 400 cases, got " + cases.size());
    assertTrue(failed.isEmpty(), failed.size() + " of " + cases.size() + " cases failed:\n" + String.join("\n", failed));
  }

  @Test
  @Order(2)
  void badItemLinesGetErrorLinesAndTheUploadGoesOn() throws Exception {
    String chat = "\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8}";
    List<String[]> lines = new ArrayList<>(); // line, expected code (null: a good item), expected custom_id
    lines.add(new String[] {"{\"custom_id\":\"good-1\"," + chat + "}", null, "good-1"});
    for (String bad : List.of("not json", "{\"custom_id\":", "[]", "42", "null", "\"a string\"", "{" + chat + "}",
        "{\"custom_id\":\"\"," + chat + "}", "{\"custom_id\":5," + chat + "}", "{\"custom_id\":null," + chat + "}",
        "{\"custom_id\":\"" + "x".repeat(257) + "\"," + chat + "}", "[".repeat(10_000) + "]".repeat(10_000))) {
      lines.add(new String[] {bad, "invalid_line", null});
    }
    lines.add(new String[] {"{\"custom_id\":\"good-1\"," + chat + "}", "duplicate_custom_id", "good-1"});
    String[][] named = { // custom_id, line
        {"unknown-member", "{\"custom_id\":\"%s\"," + chat + ",\"extra\":1}"}, {"body-string", "{\"custom_id\":\"%s\",\"body\":\"hi\"}"},
        {"body-array", "{\"custom_id\":\"%s\",\"body\":[]}"}, {"body-null", "{\"custom_id\":\"%s\",\"body\":null}"},
        {"no-body", "{\"custom_id\":\"%s\"}"}, {"messages-string", "{\"custom_id\":\"%s\",\"body\":{\"messages\":\"hi\"}}"},
        {"messages-object", "{\"custom_id\":\"%s\",\"body\":{\"messages\":{}}}"},
        {"url-unknown", "{\"custom_id\":\"%s\",\"url\":\"/v1/completions\"," + chat + "}"},
        {"url-traversal", "{\"custom_id\":\"%s\",\"url\":\"/v1/embeddings/../../admin\"," + chat + "}"},
        {"url-number", "{\"custom_id\":\"%s\",\"url\":5," + chat + "}"}, {"method-get", "{\"custom_id\":\"%s\",\"method\":\"GET\"," + chat + "}"},
        {"neither-messages-nor-input", "{\"custom_id\":\"%s\",\"body\":{\"model\":\"x\"}}"}};
    for (String[] n : named) lines.add(new String[] {n[1].formatted(n[0]), "invalid_line", n[0]});
    lines.add(new String[] {"{\"custom_id\":\"good-2\"," + chat + "}", null, "good-2"});

    ByteArrayOutputStream upload = new ByteArrayOutputStream();
    for (String[] l : lines) upload.write((l[0] + "\n").getBytes(UTF_8));
    upload.write(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, 0x28, '\n'}); // not UTF-8 at all
    lines.add(new String[] {"<bytes ff fe c3 28>", "invalid_line", null});
    List<JsonNode> results = upload(openJob, upload.toByteArray());
    counts.merge("POST " + JOBS + "/{id}/items (bad lines)", (int) lines.stream().filter(l -> l[1] != null).count(), Integer::sum);
    List<String> failed = new ArrayList<>();
    for (int n = 1; n <= lines.size(); n++) {
      String[] l = lines.get(n - 1);
      int line = n;
      boolean found = results.stream().anyMatch(r -> l[1] == null
          ? l[2].equals(r.path("custom_id").asText(null)) && (r.has("response") || r.has("error")) && !r.path("error").has("line")
          : r.path("error").path("line").asLong() == line && l[1].equals(r.path("error").path("code").asText())
              && (l[2] == null || l[2].equals(r.path("custom_id").asText(null))));
      if (!found) failed.add("[items] line " + n + " (" + clip(l[0]) + "): no result line " + (l[1] == null ? "for " + l[2] : "with code " + l[1]));
    }
    if (results.size() != lines.size()) failed.add("[items] " + lines.size() + " lines got " + results.size() + " result lines");

    // A line over the 1 MiB limit ends the upload with a last line that has no custom_id.
    String longJob = submitJob(key, null);
    String big = "{\"custom_id\":\"big\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1024 * 1024 + 16) + "\"}]}}";
    List<JsonNode> cut = upload(longJob, ("not json\n" + big + "\n{\"custom_id\":\"after\"," + chat + "}\n").getBytes(UTF_8));
    counts.merge("POST " + JOBS + "/{id}/items (bad lines)", 2, Integer::sum);
    JsonNode last = cut.isEmpty() ? JSON.nullNode() : cut.get(cut.size() - 1);
    if (cut.stream().noneMatch(r -> r.path("error").path("line").asLong() == 1 && "invalid_line".equals(r.path("error").path("code").asText()))) {
      failed.add("[items] long-line upload, line 1 (not json): no invalid_line result; got " + cut);
    }
    if (last.has("custom_id") || !"line_too_long".equals(last.path("error").path("code").asText()) || last.path("error").path("line").asLong() != 2) {
      failed.add("[items] long-line upload: the last line is not {error: {code: line_too_long, line: 2}} without custom_id; got " + cut);
    }
    failures.addAll(failed);
    assertTrue(failed.isEmpty(), String.join("\n", failed));
  }

  @Test
  @Order(3)
  void theNodeStillWorksAfterwards() throws Exception {
    var ready = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/health/ready")).timeout(TIMEOUT).build(), BodyHandlers.ofString());
    assertEquals(200, ready.statusCode(), "GET /health/ready: " + ready.body());
    var job = send(new Case("after", "valid job", Shape.PROBLEM).to("POST", JOBS).json(submission(Map.of())));
    assertEquals(201, job.statusCode(), "a valid POST /ixp/v1/jobs: " + new String(job.body(), UTF_8));
    var chat = send(new Case("after", "valid chat", Shape.OPENAI).to("POST", CHAT).json(body(CHAT_BODY, Map.of())));
    assertEquals(200, chat.statusCode(), "a valid POST /v1/chat/completions: " + new String(chat.body(), UTF_8));
  }

  // -- the cases --------------------------------------------------------------------------------

  private static List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    Random random = new Random(0x6b656c64L);
    for (String path : List.of(JOBS, QUOTES)) submissionCases(cases, path, random);
    cases.add(post(JOBS, "Idempotency-Key of 300 characters", submission(Map.of())).header("Idempotency-Key", "k".repeat(300))
        .expect(422, "Idempotency-Key"));
    cases.add(post(JOBS, "Idempotency-Key reused with another body", submission(Map.of("estimated_tokens", "2000")))
        .header("Idempotency-Key", "bad-input-idempotency").expect(409, "Idempotency-Key"));
    cases.add(post(JOBS, "org-wide key without project_id", submission(Map.of())).key(adminKey).expect(422, "project_id"));
    cases.add(post(JOBS, "org-wide key, another org's project", submission(Map.of("project_id", q(otherProject)))).key(adminKey).expect(404));
    listCases(cases);
    jobIdCases(cases);
    openAiCases(cases, CHAT, CHAT_BODY);
    openAiCases(cases, EMBED, EMBED_BODY);
    atlasCases(cases);
    return cases;
  }

  /** POST /ixp/v1/jobs and /ixp/v1/quotes: the body, its members one by one, content type, size and keys. */
  private static void submissionCases(List<Case> cases, String path, Random random) {
    String valid = submission(Map.of());
    for (String bad : List.of("", "   ", "null", "[]", "42", "\"chat\"", "true", "{", "{\"use_case\":", "{'use_case':'chat'}",
        "{use_case:\"chat\"}", "{\"use_case\":\"chat\",}", "{\"use_case\":\"chat\" /* c */}", "{\"ceiling_usd_per_mtok\":NaN}",
        "{\"ceiling_usd_per_mtok\":Infinity}", "{\"estimated_tokens\":0x10}", "{\"use_case\":\"ch\u0001at\"}", "\ufeff", "\ufeff{\"use_case\":",
        "[".repeat(10_000) + "]".repeat(10_000), "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000),
        valid + "}", valid + " x", valid + ",{}", valid + valid, valid + "\u0000")) {
      cases.add(post(path, malformed(bad, valid), bad).expect(400));
    }
    for (int i = 0; i < 10; i++) {
      int cut = 1 + random.nextInt(valid.length() - 2);
      cases.add(post(path, "truncated at " + cut, valid.substring(0, cut)).expect(400));
    }
    for (int i = 0; i < 6; i++) {
      byte[] garbage = new byte[1 + random.nextInt(64)];
      random.nextBytes(garbage);
      garbage[0] = (byte) (0x80 | garbage[0]); // never a JSON value's first byte
      cases.add(post(path, "random bytes #" + i, "").body("application/json", garbage).expect(400));
    }
    byte[] latin = valid.replace("\"chat\"", "\"ch\u00e9at\"").getBytes(StandardCharsets.ISO_8859_1);
    cases.add(post(path, "non-UTF-8 byte in use_case", "").body("application/json", latin).expect(422, "use_case"));
    byte[] bom16 = ("\ufeff" + valid).getBytes(StandardCharsets.UTF_16LE);
    cases.add(post(path, "UTF-16LE with BOM", "").body("application/json", bom16).expect(400));

    for (String[] fc : fieldCases()) {
      cases.add(post(path, fc[0] + " = " + clip(fc[1]), submission(singletonMap(fc[0], fc[1]))).expect(422, fc[2]));
    }
    for (String member : SUBMISSION.keySet()) {
      cases.add(post(path, "missing " + member, submission(singletonMap(member, null))).expect(422, member));
    }
    for (String unknown : List.of("ceiling_usd_per_mtock", "extra", "useCase", "USE_CASE", "", "id", "state", "__proto__")) {
      cases.add(post(path, "unknown member '" + unknown + "'", submission(Map.of(unknown, "1"))).expect(422, unknown));
    }
    for (String prj : List.of("prj_0000000000000000", "' OR '1'='1", "../../prj", "prj_" + "a".repeat(5000))) {
      cases.add(post(path, "project_id " + clip(prj), submission(Map.of("project_id", q(prj)))).expect(404));
    }
    cases.add(post(path, "project_id of another organization", submission(Map.of("project_id", q(otherProject)))).expect(404));
    for (String type : List.of("text/plain", "application/xml", "application/x-www-form-urlencoded", "application/x-ndjson",
        "multipart/form-data; boundary=x", "application/json-patch+json")) {
      cases.add(post(path, "content type " + type, "").body(type, valid.getBytes(UTF_8)).expect(415));
    }
    cases.add(post(path, "no content type", "").body(null, valid.getBytes(UTF_8)).expect(415));
    String padded = submission(Map.of("job_category", q("x".repeat(70_000))));
    cases.add(post(path, "body of 70 KB", padded).expect(413));
    cases.add(post(path, "body of 70 KB, chunked", padded).chunked().expect(413));
    cases.add(post(path, "body of 2 MiB", submission(Map.of("job_category", q("x".repeat(2 << 20))))).expect(413));
    authCases(cases, () -> post(path, "", valid));
    cases.add(post(path, "read-only key", valid).key(readOnlyKey).expect(403));
  }

  /** {member, raw JSON value, the field the problem must name}, for the submission's members. */
  private static List<String[]> fieldCases() {
    List<String[]> out = new ArrayList<>();
    String many = join(1000, "\"m%d\"", "[]"), sixtyFive = join(65, "\"p%d\"", "[]");
    String hundredTags = join(100, "\"t%d\":\"v\"", "{}"), thirtyThreeTags = join(33, "\"t%d\":\"v\"", "{}");
    String backup = "\"provider_id\":\"prv_demo_sage\",\"model\":\"sim-large\",\"price_usd_per_mtok\":0.5,\"throughput_tps\":1000";
    add(out, "use_case", "use_case", "5", "5.5", "true", "[]", "{}", "null", q(""), q("  "), q("CHAT"), q("nope"), q("chat "),
        q("x".repeat(60_000)), q("\\u0000"), q("\\ud800"));
    add(out, "models", "models", q("sim-small"), "5", "{}", "[5]", "[null]", "[\"\"]", "[" + q("x".repeat(201)) + "]", sixtyFive, many, "[[]]");
    add(out, "min_quality", "min_quality", q("50"), "50.5", "-1", "101", "3000000000", "true", "[]", "1e2");
    add(out, "deadline", "deadline", "5", "true", "[]", "{}", "null", q(""), q(" "), q("P"), q("PT-5M"), q("PT0S"), q("PT1S"), q("PT4S"),
        q("P8D"), q("P7DT1M"), q("tomorrow"), q("now"), q("2026-13-45T25:61:00Z"), q("2030-01-01T00:00:00"), q("2020-01-01T00:00:00Z"),
        q("2030-02-30T00:00:00Z"), q("P1W"), q("P1M"), q("P1Y"), q("PT10M garbage"), q("+999999999-12-31T23:59:59Z"),
        q("-999999999-01-01T00:00:00Z"), q("PT30000000000000000S"));
    add(out, "ceiling_usd_per_mtok", "ceiling_usd_per_mtok", q("1.0"), "true", "[]", "{}", "null", "0", "-1", "0.0000001", "1.1234567",
        "1e309", "-1e309", "1e100000000", "1e-100000000", "1000001", q("NaN"), q("Infinity"));
    add(out, "estimated_tokens", "estimated_tokens", q("1000"), "1000.5", "1e3", "0", "-1", "1000000000001", "9223372036854775807",
        "99999999999999999999", "true", "[]", "{}", "null");
    add(out, "constraints", "constraints", q("eu"), "[]", "5");
    add(out, "constraints", "constraints.regions", "{\"regions\":\"eu\"}", "{\"regions\":[null]}", "{\"regions\":[" + q("x".repeat(201)) + "]}");
    add(out, "constraints", "constraints.required_tags", "{\"required_tags\":[5]}", "{\"required_tags\":[[]]}");
    add(out, "constraints", "constraints.providers_allowed", "{\"providers_allowed\":" + sixtyFive + "}");
    add(out, "constraints", "constraints.providers_denied", "{\"providers_denied\":[\"\"]}");
    add(out, "constraints", "constraints.unknown", "{\"unknown\":[]}");
    add(out, "project_id", "project_id", "5", "[]", "{}", "true");
    add(out, "job_category", "job_category", q(""), q("x".repeat(65)), "5", "[]", "{}", "true");
    add(out, "spend_class", "spend_class", q("both"), q(""), q("CAPEX"), q("capex "), "5", "[]");
    add(out, "tags", "tags", hundredTags, thirtyThreeTags, "[]", q("x"), "5", "{\"\":\"v\"}", "{\"k\":5}", "{\"k\":null}",
        "{\"k\":" + q("v".repeat(257)) + "}", "{" + q("k".repeat(65)) + ":\"v\"}", "{\"k\":{}}", "{\"k\":[]}");
    add(out, "backup", "backup", q("x"), "[]", "5", "true");
    add(out, "backup", "backup.provider_id", "{}", "{" + backup.replaceFirst("\"provider_id\":\"prv_demo_sage\",", "") + "}",
        "{" + backup.replace("prv_demo_sage", "") + "}", "{" + backup.replace("\"prv_demo_sage\"", "5") + "}");
    add(out, "backup", "backup.model", "{" + backup.replace(",\"model\":\"sim-large\"", "") + "}", "{" + backup.replace("sim-large", " ") + "}");
    add(out, "backup", "backup.price_usd_per_mtok", "{" + backup.replace(",\"price_usd_per_mtok\":0.5", "") + "}",
        "{" + backup.replace("0.5", "-1") + "}", "{" + backup.replace("0.5", "0") + "}", "{" + backup.replace("0.5", "0.1234567") + "}",
        "{" + backup.replace("0.5", "2") + "}", "{" + backup.replace("0.5", "\"0.5\"") + "}");
    add(out, "backup", "backup.throughput_tps", "{" + backup.replace(",\"throughput_tps\":1000", "") + "}",
        "{" + backup.replace("1000", "0") + "}", "{" + backup.replace("1000", "-1") + "}", "{" + backup.replace("1000", "1.5") + "}",
        "{" + backup.replace("1000", "\"10\"") + "}");
    add(out, "backup", "backup.region", "{" + backup + ",\"region\":\"eu\"}");
    return out;
  }

  /** Every way a request can come without a usable enterprise key. */
  private static void authCases(List<Case> cases, Supplier<Case> base) {
    Map<String, String> auth = new LinkedHashMap<>();
    auth.put("no key", null);
    auth.put("'Bearer' without a key", "Bearer");
    auth.put("Basic auth", "Basic dXNlcjpwYXNz");
    auth.put("key without 'Bearer'", key);
    auth.put("'Token' scheme", "Token " + key);
    auth.put("unknown key", "Bearer keld_aaaaaaaaaaaaaaaa_" + "A".repeat(43));
    auth.put("tampered key", "Bearer " + key.substring(0, key.length() - 1) + (key.endsWith("A") ? "B" : "A"));
    auth.put("key with a suffix", "Bearer " + key + "x");
    auth.put("key of 5000 characters", "Bearer keld_" + "a".repeat(5000));
    auth.put("revoked key", "Bearer " + revokedKey);
    auth.put("SQL in the key", "Bearer ' OR '1'='1");
    auth.forEach((name, value) -> { Case c = base.get(); cases.add(copy(c, name).auth(value).expect(401)); });
    Case c = base.get();
    cases.add(copy(c, "bad Authorization, good X-Api-Key").auth("Basic eA==").header("X-Api-Key", key).expect(401));
    cases.add(copy(c, "bad X-Api-Key only").auth(null).header("X-Api-Key", "keld_nope").expect(401));
    cases.add(copy(c, "provider organization's key").key(providerKey).expect(403));
  }

  /** GET /ixp/v1/jobs with query parameters it must refuse. */
  private static void listCases(List<Case> cases) {
    String[][] params = {
        {"limit", "0"}, {"limit", "-1"}, {"limit", "201"}, {"limit", "999"}, {"limit", "abc"}, {"limit", "1.5"}, {"limit", ""},
        {"limit", "99999999999"}, {"limit", " 5"}, {"cursor", "abc"}, {"cursor", "!!!"}, {"cursor", ""}, {"cursor", b64("x:job_0000000000000000")},
        {"cursor", b64("1:../../etc/passwd")}, {"cursor", b64("1e3:job_0000000000000000")},
        {"cursor", b64("9223372036854775807:job_0000000000000000")},
        {"cursor", b64("-9223372036854775808:job_0000000000000000")}, {"cursor", "x".repeat(1000)},
        {"submitted_after", "yesterday"}, {"submitted_after", "2026-01-01"}, {"submitted_after", "2026-01-01T00:00:00"},
        {"submitted_after", "2026-13-45T00:00:00Z"}, {"submitted_after", "1700000000"}, {"submitted_after", "+999999999-12-31T23:59:59Z"},
        {"submitted_after", "-999999999-01-01T00:00:00Z"}, {"submitted_before", "+300000-01-01T00:00:00Z"}, {"submitted_before", "P1D"},
        {"state", "unknown"}, {"state", "OPEN"}, {"state", ""}, {"state", "open,matched"}, {"realtime", "yes"}, {"realtime", "1"},
        {"realtime", ""}, {"realtime", "TRUE"}, {"foo", "bar"}, {"Limit", "5"}, {"limit[]", "5"}};
    for (String[] p : params) {
      String query = URLEncoder.encode(p[0], UTF_8) + "=" + URLEncoder.encode(p[1], UTF_8);
      cases.add(new Case("GET " + JOBS, "?" + clip(p[0] + "=" + p[1]), Shape.PROBLEM).to("GET", JOBS + "?" + query).expect(422, p[0]));
    }
    authCases(cases, () -> new Case("GET " + JOBS, "", Shape.PROBLEM).to("GET", JOBS));
  }

  /** /ixp/v1/jobs/{id} and its sub-resources for ids that name nothing the key may see, and wrong methods and paths. */
  private static void jobIdCases(List<Case> cases) {
    List<String> ids = new ArrayList<>(List.of("'%20OR%20'1'%3D'1", "1%3B%20DROP%20TABLE%20ixp_jobs%3B--", "..%2F..%2F..%2Fhealth%2Fready",
        "%2e%2e", "job_", "job_0000000000000000", "JOB_0000000000000000", "job_%C3%BC%E2%82%AC%F0%9F%98%80", "%00", "null", "-1",
        "job_" + "z".repeat(300), "job_%0D%0AX-Injected%3A%201", "%FF%FE", "job_" + "a".repeat(10_240), otherJob));
    for (String id : ids) {
      String name = id.equals(otherJob) ? "another organization's job" : "id " + clip(id);
      String job = JOBS + "/" + id;
      int want = id.length() > 2048 ? 0 : 404; // an unknown or invisible job is 404; a 10 KB URI may be 414
      cases.add(ixp("GET " + JOBS + "/{id}", name, "GET", job).expect(want));
      cases.add(ixp("POST " + JOBS + "/{id}/cancel", name, "POST", job + "/cancel").expect(want));
      cases.add(ixp("GET " + JOBS + "/{id}/events", name, "GET", job + "/events").expect(want));
      cases.add(ixp(ITEMS, name, "POST", job + "/items").ndjson().expect(want));
    }
    for (String type : List.of("application/json", "text/plain", "multipart/form-data; boundary=x", "application/octet-stream", "text/csv")) {
      cases.add(ixp(ITEMS, "open job, content type " + type, "POST", JOBS + "/" + openJob + "/items").body(type, ITEM.getBytes(UTF_8)).expect(415));
    }
    cases.add(ixp(ITEMS, "open job, no content type", "POST", JOBS + "/" + openJob + "/items").body(null, ITEM.getBytes(UTF_8)).expect(415));
    cases.add(ixp(ITEMS, "ended job", "POST", JOBS + "/" + endedJob + "/items").ndjson().expect(409));
    cases.add(ixp(ITEMS, "read-only key", "POST", JOBS + "/" + roItemsJob + "/items").key(readOnlyKey).ndjson().expect(403));
    cases.add(ixp(ITEMS, "unknown job, no key", "POST", JOBS + "/job_0000000000000000/items").auth(null).ndjson().expect(401));
    String cancel = "POST " + JOBS + "/{id}/cancel";
    cases.add(ixp(cancel, "ended job", "POST", JOBS + "/" + endedJob + "/cancel").expect(409));
    cases.add(ixp(cancel, "read-only key", "POST", JOBS + "/" + roCancelJob + "/cancel").key(readOnlyKey).expect(403));
    cases.add(ixp(cancel, "provider key", "POST", JOBS + "/" + openJob + "/cancel").key(providerKey).expect(403));
    cases.add(ixp("GET " + JOBS + "/{id}/events", "no key", "GET", JOBS + "/" + openJob + "/events").auth(null).expect(401));
    String[][] wrong = {{"DELETE", JOBS, "405"}, {"PATCH", JOBS, "405"}, {"PUT", JOBS + "/" + openJob, "405"},
        {"DELETE", JOBS + "/" + openJob, "405"}, {"GET", JOBS + "/" + openJob + "/cancel", "405"}, {"GET", JOBS + "/" + openJob + "/items", "405"},
        {"POST", JOBS + "/" + openJob + "/events", "405"}, {"GET", QUOTES, "405"}, {"PUT", QUOTES, "405"}, {"GET", "/ixp/v1/nope", "404"},
        {"GET", JOBS + "/" + openJob + "/nope", "404"}, {"POST", QUOTES + "/x", "404"}, {"GET", "/ixp/v2/jobs", "404"}, {"GET", "/ixp", "404"},
        {"GET", JOBS + "/" + openJob + "/events/x/y", "404"}};
    for (String[] w : wrong) {
      Case c = ixp("wrong method or path (/ixp)", w[0] + " " + w[1].replace(openJob, "{id}"), w[0], w[1]);
      cases.add((w[0].equals("GET") || w[0].equals("DELETE") ? c : c.json("{}")).expect(Integer.parseInt(w[2])));
    }
  }

  /** POST /v1/chat/completions or /v1/embeddings: body, members, X-Keld-* headers, keys, methods and paths. */
  private static void openAiCases(List<Case> cases, String path, Map<String, String> base) {
    String valid = body(base, Map.of());
    for (String bad : List.of("", "{", "[]", "null", "42", "{\"model\":", "{'model':'keld/chat'}", "\ufeff{",
        "[".repeat(10_000) + "]".repeat(10_000), "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000), valid + " x", valid + "}", valid + valid)) {
      cases.add(openai(path, malformed(bad, valid), bad).expect(400));
    }
    cases.add(openai(path, "bytes ff fe", "").body("application/json", new byte[] {(byte) 0xff, (byte) 0xfe, '{', '}'}).expect(400));
    for (String model : new String[] {null, q(""), q("  "), "5", "null", "[]", "{}", "true"}) {
      cases.add(openai(path, "model = " + (model == null ? "(missing)" : model), body(base, singletonMap("model", model))).expect(400, "model"));
    }
    for (String model : List.of("gpt-nonexistent", "keld/unknown", "keld/", "keld/../chat", "x".repeat(10_000))) {
      cases.add(openai(path, "unknown model " + clip(model), body(base, Map.of("model", q(model)))).expect(404, "model"));
    }
    if (path.equals(CHAT)) {
      for (String m : new String[] {null, "[]", q("hi"), "{}", "[5]", "[{}]", "[{\"role\":5}]", "[null]", "[[]]", "[{\"content\":\"hi\"}]"}) {
        cases.add(openai(path, "messages = " + (m == null ? "(missing)" : m), body(base, singletonMap("messages", m))).expect(400, "messages"));
      }
      for (String f : List.of("max_tokens", "max_completion_tokens")) {
        for (String v : List.of("0", "-1", "1.5", q("10"), "1e12", "1000000000001", "9223372036854775808", "true", "[]")) {
          cases.add(openai(path, f + " = " + v, body(base, Map.of(f, v))).expect(400, f));
        }
      }
      for (String v : List.of(q("yes"), "1", q("true"), "{}")) {
        cases.add(openai(path, "stream = " + v, body(base, Map.of("stream", v))).expect(400, "stream"));
      }
      cases.add(openai(path, "unknown X-Keld-Use-Case", body(base, Map.of("model", q("sim-small")))).header("X-Keld-Use-Case", "nope")
          .expect(400, "X-Keld-Use-Case"));
      cases.add(openai(path, "X-Keld-Use-Case CHAT", body(base, Map.of("model", q("sim-small")))).header("X-Keld-Use-Case", "CHAT")
          .expect(400, "X-Keld-Use-Case"));
    } else {
      for (String v : new String[] {null, "[]", "5", "null", "{}", "true"}) {
        cases.add(openai(path, "input = " + (v == null ? "(missing)" : v), body(base, singletonMap("input", v))).expect(400, "input"));
      }
      for (String v : List.of(q("hex"), q(""), "5", q("FLOAT"))) {
        cases.add(openai(path, "encoding_format = " + v, body(base, Map.of("encoding_format", v))).expect(400, "encoding_format"));
      }
    }
    for (String d : List.of("soon", "PT0S", "PT0.5S", "P30D", "PT-5S", "P", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "tomorrow",
        "PT30000000000000000S", "+999999999-12-31T23:59:59Z")) {
      cases.add(openai(path, "X-Keld-Deadline " + d, valid).header("X-Keld-Deadline", d).expect(400, "X-Keld-Deadline"));
    }
    for (String ceiling : List.of("-1", "0", "abc", "0.0000001", "1e309", "NaN", "1,5", "$1", "1e2147483648")) {
      cases.add(openai(path, "X-Keld-Ceiling " + ceiling, valid).header("X-Keld-Ceiling", ceiling).expect(400, "X-Keld-Ceiling"));
    }
    for (String prj : List.of(otherProject, "prj_0000000000000000", "garbage", "' OR '1'='1")) {
      cases.add(openai(path, "X-Keld-Project " + prj, valid).header("X-Keld-Project", prj).expect(404, "X-Keld-Project"));
    }
    cases.add(openai(path, "org-wide key, no X-Keld-Project", valid).key(adminKey).expect(400, "X-Keld-Project"));
    cases.add(openai(path, "read-only key", valid).key(readOnlyKey).expect(403));
    authCases(cases, () -> openai(path, "", valid));
    cases.add(openai(path, "body over 4 MiB", body(base, Map.of("user", q("x".repeat(4 * 1024 * 1024 + 1024))))));
    for (String method : List.of("GET", "PUT", "DELETE")) {
      cases.add(new Case("wrong method or path (/v1)", method + " " + path, Shape.OPENAI).to(method, path).expect(405));
    }
  }

  private static void atlasCases(List<Case> cases) {
    cases.add(new Case("wrong method or path (/v1)", "GET /v1/models/nope", Shape.OPENAI).to("GET", "/v1/models/nope").expect(404));
    for (String p : List.of("/v1/completions", "/v1/chat", "/v1/foo/bar", "/v1/chat/completions/x")) {
      cases.add(new Case("wrong method or path (/v1)", "POST " + p, Shape.OPENAI).to("POST", p).json("{}").expect(404));
    }
    cases.add(new Case("wrong method or path (/v1)", "POST /v1/models", Shape.OPENAI).to("POST", "/v1/models").json("{}").expect(405));
    cases.add(new Case("GET /atlas/v1/me", "no key", Shape.PROBLEM).to("GET", "/atlas/v1/me").auth(null).expect(401));
    cases.add(new Case("GET /atlas/v1/me", "unknown key", Shape.PROBLEM).to("GET", "/atlas/v1/me").auth("Bearer keld_nope").expect(401));
    cases.add(new Case("GET /atlas/v1/…", "unknown path", Shape.PROBLEM).to("GET", "/atlas/v1/nope").expect(404));
    String reservations = "/atlas/v1/projects/" + world.tenancy.projectId() + "/reservations";
    cases.add(new Case("POST /atlas/v1/projects/{id}/reservations", "malformed JSON", Shape.PROBLEM).to("POST", reservations).json("{").expect(400));
    cases.add(new Case("POST /atlas/v1/projects/{id}/reservations", "text/plain", Shape.PROBLEM).to("POST", reservations)
        .body("text/plain", "{}".getBytes(UTF_8)).expect(415));
    cases.add(new Case("POST /atlas/v1/projects/{id}/reservations", "70 KB", Shape.PROBLEM).to("POST", reservations)
        .json("{\"reservation_id\":" + q("x".repeat(70_000)) + "}").expect(413));
    cases.add(new Case("POST /atlas/v1/projects/{id}/reservations", "another org's project", Shape.PROBLEM)
        .to("POST", "/atlas/v1/projects/" + otherProject + "/reservations").json("{\"reservation_id\":\"r\",\"amount_micro_usd\":1}").expect(404));
  }

  // -- requests ---------------------------------------------------------------------------------

  private static Case post(String path, String name, String json) {
    return new Case("POST " + path, name, Shape.PROBLEM).to("POST", path).json(json);
  }

  private static Case ixp(String route, String name, String method, String path) {
    return new Case(route, name, Shape.PROBLEM).to(method, path);
  }

  private static Case openai(String path, String name, String json) {
    return new Case("POST " + path, name, Shape.OPENAI).to("POST", path).json(json);
  }

  private static Case copy(Case c, String name) {
    Case n = new Case(c.route, name, c.shape).to(c.method, c.path);
    n.headers.putAll(c.headers);
    n.body = c.body;
    return n;
  }

  /** Sends the case and checks the answer; null when it is as it must be, else why not. */
  private static String run(Case c) {
    HttpResponse<byte[]> r;
    try {
      r = send(c);
    } catch (Exception e) {
      return describe(c) + ": no answer within " + TIMEOUT.toSeconds() + " s or the connection failed: " + e;
    }
    List<String> wrong = new ArrayList<>();
    int status = r.statusCode();
    if (status < 400 || status > 499) wrong.add("status " + status + ", want 4xx");
    else if (c.status != 0 && status != c.status) wrong.add("status " + status + ", want " + c.status);
    String type = r.headers().firstValue("Content-Type").orElse("");
    if (r.body().length > MAX_ERROR_BYTES) wrong.add("an error answer of " + r.body().length + " bytes");
    JsonNode body = r.body().length > MAX_ERROR_BYTES ? null : tree(r.body());
    if (status < 400) {
      // a success for bad input: the status says it all
    } else if (c.shape == Shape.PROBLEM) {
      if (!type.startsWith("application/problem+json")) wrong.add("Content-Type '" + type + "', want application/problem+json");
      if (body == null || !body.isObject()) wrong.add("body is not a JSON object");
      else {
        if (!body.path("type").asText("").startsWith("https://keld.io/problems/")) wrong.add("no problem type");
        if (!body.path("title").isTextual() || body.path("title").asText().isBlank()) wrong.add("no title");
        if (!body.path("status").isInt() || body.path("status").asInt() != status) wrong.add("status member " + body.get("status") + " ≠ " + status);
        if (!body.path("detail").isTextual() || body.path("detail").asText().isBlank()) wrong.add("no detail");
        if (c.field != null && !names(body.path("field").asText(null), c.field)) wrong.add("field " + body.get("field") + ", want " + c.field);
      }
    } else {
      JsonNode error = body == null ? JSON.nullNode() : body.path("error");
      if (!type.startsWith("application/json")) wrong.add("Content-Type '" + type + "', want application/json");
      if (!error.isObject()) wrong.add("no error object");
      else {
        if (!error.path("message").isTextual() || error.path("message").asText().isBlank()) wrong.add("no message");
        if (!error.path("type").isTextual()) wrong.add("no type");
        if (!error.has("code") || !error.has("param")) wrong.add("code or param missing");
        if (c.field != null && !c.field.equals(error.path("param").asText(null))) wrong.add("param " + error.get("param") + ", want " + c.field);
      }
    }
    if (wrong.isEmpty()) return null;
    String got = new String(r.body(), 0, Math.min(r.body().length, 4096), UTF_8);
    return describe(c) + ": " + String.join("; ", wrong) + " — got " + status + " " + type + " " + clip(got);
  }

  private static JsonNode tree(byte[] bytes) {
    try {
      return JSON.readTree(bytes);
    } catch (IOException e) {
      return null;
    }
  }

  /** The problem's field names the member: exactly, or a part of it ("models.[0]" for "models"). */
  private static boolean names(String actual, String expected) {
    return actual != null && (actual.equals(expected) || actual.startsWith(expected + ".") || actual.startsWith(expected + "["));
  }

  private static HttpResponse<byte[]> send(Case c) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + c.path)).timeout(TIMEOUT);
    c.headers.forEach(b::header);
    byte[] bytes = c.body;
    b.method(c.method, bytes == null ? BodyPublishers.noBody()
        : c.chunked ? BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes)) : BodyPublishers.ofByteArray(bytes));
    return http.sendAsync(b.build(), BodyHandlers.ofByteArray()).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  /** Uploads ndjson to a job's items and reads every result line. */
  private static List<JsonNode> upload(String jobId, byte[] ndjson) throws Exception {
    var r = send(new Case("items", "upload", Shape.PROBLEM).to("POST", JOBS + "/" + jobId + "/items").body("application/x-ndjson", ndjson));
    String text = new String(r.body(), UTF_8);
    assertEquals(200, r.statusCode(), "upload to " + jobId + ": " + clip(text));
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/x-ndjson"), "an ndjson answer: " + r.headers().map());
    List<JsonNode> out = new ArrayList<>();
    for (String line : text.split("\n")) if (!line.isBlank()) out.add(JSON.readTree(line));
    return out;
  }

  /** Submits a valid job (deadline in 10 minutes), with an idempotency key or not, and returns its id. */
  private static String submitJob(String apiKey, String idempotencyKey) throws Exception {
    Case c = new Case("setup", "job", Shape.PROBLEM).to("POST", JOBS).key(apiKey).json(submission(Map.of()));
    if (idempotencyKey != null) c.header("Idempotency-Key", idempotencyKey);
    var r = send(c);
    assertEquals(201, r.statusCode(), "setup: a valid job: " + new String(r.body(), UTF_8));
    return JSON.readTree(r.body()).path("id").asText();
  }

  // -- bodies -----------------------------------------------------------------------------------

  private static String submission(Map<String, String> changes) {
    return body(SUBMISSION, changes);
  }

  /** {@code base} with {@code changes} applied (a null value leaves the member out), as JSON text. */
  private static String body(Map<String, String> base, Map<String, String> changes) {
    Map<String, String> members = new TreeMap<>(base);
    changes.forEach((k, v) -> { if (v == null) members.remove(k); else members.put(k, v); });
    return members.entrySet().stream().map(e -> q(e.getKey()) + ":" + e.getValue()).collect(Collectors.joining(",", "{", "}"));
  }

  /** {@code n} generated elements: {@code join(2, "\"m%d\"", "[]")} is {@code ["m0","m1"]}. */
  private static String join(int n, String format, String brackets) {
    return IntStream.range(0, n).mapToObj(i -> format.formatted(i)).collect(Collectors.joining(",", brackets.substring(0, 1), brackets.substring(1)));
  }

  private static void add(List<String[]> out, String member, String field, String... values) {
    for (String v : values) out.add(new String[] {member, v, field});
  }

  /** A JSON string of {@code s}; a backslash passes through, so {@code q("\\u0000")} holds an escape. */
  private static String q(String s) {
    return "\"" + s.replace("\"", "\\\"") + "\"";
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(UTF_8));
  }

  /** A malformed body's case name: the body, or what follows a valid body. */
  private static String malformed(String bad, String valid) {
    return bad.startsWith(valid) && bad.length() > valid.length() ? "valid body + '" + clip(bad.substring(valid.length())) + "'"
        : "malformed: '" + clip(bad) + "'";
  }

  private static String describe(Case c) {
    return "[" + c.route + "] " + c.name + " (" + c.method + " " + clip(c.path) + ")";
  }

  private static String clip(String s) {
    String t = s.replace("\n", "\\n").replaceAll("[\\x00-\\x1f]", "·");
    return t.length() > 80 ? t.substring(0, 80) + "…(" + t.length() + " chars)" : t;
  }

  private static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
