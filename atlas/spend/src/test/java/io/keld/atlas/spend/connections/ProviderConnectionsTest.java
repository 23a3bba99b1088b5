package io.keld.atlas.spend.connections;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.SpendMap;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.kit.CacheSettings;
import io.keld.kit.crypto.MasterKey;
import io.keld.testkit.ApiClient;
import io.keld.testkit.DatabaseScan;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.slf4j.LoggerFactory;

/**
 * Connections end to end: the spend map served on real HTTP as a node serves it, pulling from local
 * fakes of OpenAI's organization usage and costs APIs and Anthropic's usage and cost reports (real
 * HTTP on a port, the documented shapes, pagination, empty buckets). A 30-day backfill of both lands
 * in the spend report with exactly the totals the fakes served and placed by mapping rules; pulling
 * again, even through a second connection that re-reads all 30 days, adds nothing; a 429 storm and a
 * malformed page stop the pull with the watermark and the ledger where they were; a single 429 and
 * 503 are waited out; a revoked credential is an error on the connection. The credentials are found
 * in no table, log line or response.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProviderConnectionsTest {

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Instant today = Instant.now().truncatedTo(ChronoUnit.DAYS);
  private final Instant backfillFrom = today.minus(30, ChronoUnit.DAYS);
  private final String openAiKey = "sk-admin-" + HexFormat.of().formatHex(RANDOM.generateSeed(16));
  private final String anthropicKey = "sk-ant-admin01-" + HexFormat.of().formatHex(RANDOM.generateSeed(16));
  private final List<String> responses = new CopyOnWriteArrayList<>();
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  private TestDatabase db;
  private ModuleNode node;
  private FakeProviderReports openAi;
  private FakeProviderReports anthropic;
  private ApiClient api;
  private String operatorKey;
  private Org acme;
  private SpendMap spend;

  record Org(String id, String adminKey, String memberKey, String projectKey, String alphaProject, String redProject) {}

  @BeforeAll
  void start() throws Exception {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    logs.start();
    openAi = new FakeProviderReports(FakeProviderReports.Flavor.OPENAI, openAiKey, today, 26);
    anthropic = new FakeProviderReports(FakeProviderReports.Flavor.ANTHROPIC, anthropicKey, today, 27);
    db = TestDatabase.h2(Files.createTempDirectory("keld-connections"));
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("keld.atlas.connections.providers.openai.base-url", openAi.baseUrl());
    settings.put("keld.atlas.connections.providers.anthropic.base-url", anthropic.baseUrl());
    settings.put("keld.atlas.connections.settle", "0s");
    settings.put("keld.atlas.connections.page-limit", 3);
    settings.put("keld.atlas.connections.max-attempts", 3);
    settings.put("keld.atlas.connections.backoff-min", "50ms");
    settings.put("keld.atlas.connections.backoff-max", "5s");
    settings.put("keld.atlas.connections.check-every", "1h");
    var config = ModuleNode.config(db, settings);
    node = ModuleNode.start(config);
    Clock clock = Clock.systemUTC();
    Governance governance = Governance.start(node.system(), node.dataSource(), node.blocking(), clock, node.metrics(),
        config.getDuration("keld.atlas.budget-timeout"), CacheSettings.of(config.getConfig("keld.atlas"), "project"));
    spend = new SpendMap(node.system(), node.dataSource(), node.blocking(), clock, governance,
        CacheSettings.of(config.getConfig("keld.atlas"), "mapping-rules"));
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(ModuleNode.PRICE_BOOK_SEED)) {
      spend.startPriceBook(new String(in.readAllBytes(), StandardCharsets.UTF_8), config.getDuration("keld.atlas.price-book-refresh"));
    }
    spend.startConnections(MasterKey.of(RANDOM.generateSeed(32), "test"),
        ConnectionSettings.fromConfig(config.getConfig("keld.atlas.connections")));
    node.serve(governance.routes(), spend.routes(null, Set.of()));
    api = new ApiClient(node);
    operatorKey = governance.issueBootstrapKeyOnce().orElseThrow().secret();
    acme = org("Acme");
  }

  @AfterAll
  void stop() {
    if (node != null) node.stop();
    if (openAi != null) openAi.close();
    if (anthropic != null) anthropic.close();
    if (db != null) db.close();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
  }

  @Test
  @Order(1)
  void aThirtyDayBackfillOfBothProvidersLandsWithTheExactTotalsTheProvidersServed() {
    // Mapping rules place the pulled usage: an OpenAI project and an Anthropic workspace each to a Keld project.
    call(200, "PUT", "/atlas/v1/mapping-rules", acme.adminKey(), "{\"rules\":["
        + "{\"name\":\"alpha\",\"when\":{\"openai.project_id\":\"proj_alpha\"},\"set\":{\"project_id\":\"" + acme.alphaProject() + "\"}},"
        + "{\"name\":\"red\",\"when\":{\"anthropic.workspace_id\":\"wrkspc_red\"},\"set\":{\"project_id\":\"" + acme.redProject() + "\"}}]}");

    JsonNode created = call(201, "POST", "/atlas/v1/connections", acme.adminKey(),
        "{\"provider\":\"openai\",\"name\":\"OpenAI org\",\"credential\":\"" + openAiKey + "\"}").json();
    assertEquals("openai", created.path("provider").asText());
    assertFalse(created.has("credential"), created.toString());
    assertEquals(backfillFrom.toString(), created.path("status").path("watermark").asText());
    String anthropicId = call(201, "POST", "/atlas/v1/connections", acme.adminKey(),
        "{\"provider\":\"anthropic\",\"credential\":\"" + anthropicKey + "\"}").json().path("id").asText();

    JsonNode openAiStatus = call(200, "POST", "/atlas/v1/connections/" + created.path("id").asText() + "/pull", acme.adminKey(), null).json();
    JsonNode anthropicStatus = call(200, "POST", "/atlas/v1/connections/" + anthropicId + "/pull", acme.adminKey(), null).json();
    for (JsonNode s : List.of(openAiStatus, anthropicStatus)) {
      assertEquals("ok", s.path("status").path("state").asText(), s.toString());
      assertEquals(today.toString(), s.path("status").path("watermark").asText(), s.toString());
      assertTrue(s.path("status").path("last_error").isMissingNode(), s.toString());
      assertTrue(s.path("status").path("lag_seconds").asLong() < 86_400, s.toString());
    }

    // Every day of the 30 was read from every report, page by page.
    FakeProviderReports.Totals o = openAi.servedTotals();
    FakeProviderReports.Totals a = anthropic.servedTotals();
    assertEquals(60, o.usageBuckets(), "30 days of completions and of embeddings");
    assertEquals(30, o.costBuckets());
    assertEquals(30, a.usageBuckets());
    assertEquals(30, a.costBuckets());
    assertTrue(openAi.requests.stream().anyMatch(r -> r.contains("page=")), "the pull followed next_page");
    assertTrue(o.costMicroUsd() > 0 && a.costMicroUsd() > 0 && o.inputTokens() > 0 && a.inputTokens() > 0);

    assertTotals(acme, "openai", o);
    assertTotals(acme, "anthropic", a);

    // Placed by the rules: the alpha project holds exactly proj_alpha's tokens, the red project wrkspc_red's.
    JsonNode byProject = report(acme, "project");
    assertEquals(openAi.servedUsageInputFor("proj_alpha"), sum(byProject, "project_id", acme.alphaProject(), "input_tokens"));
    assertEquals(anthropic.servedUsageInputFor("wrkspc_red"), sum(byProject, "project_id", acme.redProject(), "input_tokens"));

    JsonNode list = call(200, "GET", "/atlas/v1/connections", acme.memberKey(), null).json();
    assertEquals(2, list.path("connections").size(), list.toString());
  }

  @Test
  @Order(2)
  void pullingAgainAddsNothingEvenThroughASecondConnectionThatRereadsEveryDay() throws Exception {
    long rows = ledgerRows(acme.id());
    JsonNode before = report(acme, "provider");
    String firstId = call(200, "GET", "/atlas/v1/connections", acme.adminKey(), null).json().path("connections").get(0).path("id").asText();
    call(200, "POST", "/atlas/v1/connections/" + firstId + "/pull", acme.adminKey(), null);
    assertEquals(rows, ledgerRows(acme.id()));

    // A second connection to the same OpenAI organization starts from 30 days back and reads it all again;
    // one 503 and one 429 (Retry-After: 1) on the way are waited out.
    int requestsBefore = openAi.requests.size();
    openAi.serverErrorOnce = 1;
    openAi.rateLimitOnce = 1;
    long started = System.nanoTime();
    String second = call(201, "POST", "/atlas/v1/connections", acme.adminKey(),
        "{\"provider\":\"openai\",\"name\":\"again\",\"credential\":\"" + openAiKey + "\"}").json().path("id").asText();
    JsonNode status = call(200, "POST", "/atlas/v1/connections/" + second + "/pull", acme.adminKey(), null).json();
    assertEquals("ok", status.path("status").path("state").asText(), status.toString());
    assertTrue(System.nanoTime() - started >= 1_000_000_000L, "the 429's Retry-After of 1 s was honoured");
    assertTrue(openAi.requests.size() - requestsBefore >= 15, "every day was read again: " + (openAi.requests.size() - requestsBefore));
    assertEquals(rows, ledgerRows(acme.id()), "the same buckets count once");
    assertEquals(before, report(acme, "provider"));

    call(204, "DELETE", "/atlas/v1/connections/" + second, acme.adminKey(), null);
    call(404, "GET", "/atlas/v1/connections/" + second, acme.adminKey(), null);
    assertEquals(rows, ledgerRows(acme.id()), "deleting a connection keeps the usage it pulled");
  }

  @Test
  @Order(3)
  void aRateLimitStormLeavesTheWatermarkAndTheLedgerWhereTheyWere() throws Exception {
    Org globex = org("Globex");
    // The first two 7-day steps land; from the third on, every request is a 429.
    Instant stormFrom = backfillFrom.plus(14, ChronoUnit.DAYS);
    openAi.rateLimitFrom = stormFrom;
    try {
      String id = call(201, "POST", "/atlas/v1/connections", globex.adminKey(),
          "{\"provider\":\"openai\",\"credential\":\"" + openAiKey + "\"}").json().path("id").asText();
      JsonNode status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", globex.adminKey(), null).json();
      assertEquals("error", status.path("status").path("state").asText(), status.toString());
      assertTrue(status.path("status").path("last_error").asText().contains("429"), status.toString());
      assertEquals(stormFrom.toString(), status.path("status").path("watermark").asText());
      long rows = ledgerRows(globex.id());
      assertTrue(rows > 0, "the steps before the storm landed");
      JsonNode before = report(globex, "provider");

      long started = System.nanoTime();
      status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", globex.adminKey(), null).json();
      assertTrue(System.nanoTime() - started >= 2_000_000_000L, "two Retry-After waits of 1 s before giving up");
      assertEquals(stormFrom.toString(), status.path("status").path("watermark").asText());
      assertEquals(rows, ledgerRows(globex.id()));
      assertEquals(before, report(globex, "provider"));

      // The storm passes: the pull resumes from the watermark and lands the rest, exactly.
      openAi.rateLimitFrom = null;
      status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", globex.adminKey(), null).json();
      assertEquals("ok", status.path("status").path("state").asText(), status.toString());
      assertTrue(status.path("status").path("last_error").isMissingNode());
      assertTotals(globex, "openai", openAi.servedTotals());
    } finally {
      openAi.rateLimitFrom = null;
    }
  }

  @Test
  @Order(4)
  void aMalformedPageLeavesTheWatermarkAndTheLedgerWhereTheyWere() throws Exception {
    Org initech = org("Initech");
    Instant badFrom = backfillFrom.plus(21, ChronoUnit.DAYS);
    anthropic.malformedFrom = badFrom;
    try {
      String id = call(201, "POST", "/atlas/v1/connections", initech.adminKey(),
          "{\"provider\":\"anthropic\",\"credential\":\"" + anthropicKey + "\"}").json().path("id").asText();
      JsonNode status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", initech.adminKey(), null).json();
      assertEquals("error", status.path("status").path("state").asText(), status.toString());
      assertTrue(status.path("status").path("last_error").asText().contains("not JSON"), status.toString());
      assertEquals(badFrom.toString(), status.path("status").path("watermark").asText());
      long rows = ledgerRows(initech.id());
      assertTrue(rows > 0);
      status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", initech.adminKey(), null).json();
      assertEquals(badFrom.toString(), status.path("status").path("watermark").asText());
      assertEquals(rows, ledgerRows(initech.id()), "page 1 of the bad step was read but not recorded");

      anthropic.malformedFrom = null;
      status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", initech.adminKey(), null).json();
      assertEquals("ok", status.path("status").path("state").asText(), status.toString());
      assertTotals(initech, "anthropic", anthropic.servedTotals());
    } finally {
      anthropic.malformedFrom = null;
    }
  }

  @Test
  @Order(5)
  void aRevokedCredentialIsAnErrorOnTheConnectionNotACrash() throws Exception {
    Org umbrella = org("Umbrella");
    anthropic.revoked = true;
    try {
      String id = call(201, "POST", "/atlas/v1/connections", umbrella.adminKey(),
          "{\"provider\":\"anthropic\",\"credential\":\"" + anthropicKey + "\"}").json().path("id").asText();
      JsonNode status = call(200, "POST", "/atlas/v1/connections/" + id + "/pull", umbrella.adminKey(), null).json();
      assertEquals("error", status.path("status").path("state").asText(), status.toString());
      String error = status.path("status").path("last_error").asText();
      assertTrue(error.contains("refused the credential") && error.contains("401"), error);
      assertTrue(error.contains("[key]") && !error.contains(anthropicKey.substring(0, 10)),
          "not even the part of the key the provider quoted back: " + error);
      assertEquals(backfillFrom.toString(), status.path("status").path("watermark").asText());
      assertEquals(0, ledgerRows(umbrella.id()));
      JsonNode listed = call(200, "GET", "/atlas/v1/connections/" + id, umbrella.adminKey(), null).json();
      assertEquals("error", listed.path("status").path("state").asText());
    } finally {
      anthropic.revoked = false;
    }
  }

  @Test
  @Order(6)
  void badRequestsAreProblemsAndOnlyAdminsManageConnections() {
    call(422, "POST", "/atlas/v1/connections", acme.adminKey(), "{\"provider\":\"mistral\",\"credential\":\"" + openAiKey + "\"}");
    call(422, "POST", "/atlas/v1/connections", acme.adminKey(), "{\"provider\":\"openai\"}");
    call(422, "POST", "/atlas/v1/connections", acme.adminKey(), "{\"provider\":\"openai\",\"credential\":\"short\"}");
    call(422, "POST", "/atlas/v1/connections", acme.adminKey(), "{\"provider\":\"openai\",\"credential\":\"" + openAiKey + "\",\"base_url\":\"http://x\"}");
    // Broken JSON holding the credential: the problem does not quote it back.
    ApiClient.Response broken = call(400, "POST", "/atlas/v1/connections", acme.adminKey(), "{\"provider\":\"openai\",\"credential\":" + openAiKey + "}");
    assertTrue(broken.contentType().contains("problem+json"), broken.contentType());
    call(403, "POST", "/atlas/v1/connections", acme.memberKey(), "{\"provider\":\"openai\",\"credential\":\"" + openAiKey + "\"}");
    call(403, "GET", "/atlas/v1/connections", acme.projectKey(), null);
    call(404, "GET", "/atlas/v1/connections/conn_00000000000000000000", acme.adminKey(), null);
    call(404, "POST", "/atlas/v1/connections/nonsense/pull", acme.adminKey(), null);
    call(401, "GET", "/atlas/v1/connections", null, null);
    // Another organization's connection does not exist for this one.
    String theirs = call(200, "GET", "/atlas/v1/connections?org_id=" + acme.id(), operatorKey, null).json()
        .path("connections").get(0).path("id").asText();
    Org other = org("Hooli");
    call(404, "GET", "/atlas/v1/connections/" + theirs, other.adminKey(), null);
    call(404, "DELETE", "/atlas/v1/connections/" + theirs, other.adminKey(), null);
  }

  @Test
  @Order(7)
  void theCredentialsAreFoundInNoTableLogLineOrResponse() throws Exception {
    List<String> secrets = List.of(openAiKey, anthropicKey);
    assertEquals(List.of(), DatabaseScan.cellsHolding(db, secrets, List.of("usage_connections", "usage_records", "atlas_audit_log")));
    // The sealed column holds ciphertext, one per connection.
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement("SELECT credential_sealed FROM usage_connections");
        ResultSet rs = ps.executeQuery()) {
      int n = 0;
      while (rs.next()) {
        assertTrue(rs.getString(1).startsWith("v1."));
        n++;
      }
      assertTrue(n >= 5, "connections stored: " + n);
    }
    assertTrue(logs.list.size() > 0, "the log was captured");
    for (ILoggingEvent e : logs.list) {
      for (String s : secrets) assertFalse(e.getFormattedMessage().contains(s), "a log line holds a credential: " + e.getFormattedMessage());
    }
    assertTrue(responses.size() > 20);
    for (String r : responses) {
      for (String s : secrets) assertFalse(r.contains(s), "a response holds a credential: " + r);
    }
  }

  @Test
  @Order(8)
  void theReconciliationSetsTelemetryBesideWhatTheProviderReportedAndBilled() throws Exception {
    // A day the OpenAI fake billed for, and two GenAI spans of that day as telemetry sends them.
    Instant day = backfillFrom.plus(3, ChronoUnit.DAYS);
    while (openAi.day(day)[2] == 0) day = day.plus(1, ChronoUnit.DAYS);
    List<SpendIngest.Incoming> spans = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      UsageRecord r = new UsageRecord();
      r.orgId = acme.id();
      r.source = UsageRecord.Sources.OTLP;
      r.sourceEventId = "span-" + i;
      r.periodStart = day.plusSeconds(3_600 + i);
      r.provider = "openai";
      r.modelServed = "gpt-4o-mini";
      r.operation = "chat";
      r.inputTokens = 10_000;
      r.outputTokens = 2_000;
      spans.add(new SpendIngest.Incoming(r, Map.of()));
    }
    spend.ingest().ingest(new Principal("test", acme.id(), Principal.OrgKind.ENTERPRISE, Role.ADMIN, null, null), spans)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    long telemetryCost = spans.stream().mapToLong(i -> i.record().costMicroUsd).sum();
    assertTrue(telemetryCost > 0, "the price book priced the spans");

    JsonNode report = call(200, "GET", "/atlas/v1/reports/reconcile?from=" + day + "&to=" + day.plus(1, ChronoUnit.DAYS),
        acme.adminKey(), null).json();
    JsonNode openAiRow = null;
    JsonNode anthropicRow = null;
    for (JsonNode row : report.path("rows")) {
      assertEquals(LocalDate.ofInstant(day, ZoneOffset.UTC).toString(), row.path("day").asText());
      if (row.path("provider").asText().equals("openai")) openAiRow = row;
      if (row.path("provider").asText().equals("anthropic")) anthropicRow = row;
    }
    assertNotNull(openAiRow, report.toString());
    long[] served = openAi.day(day);
    assertEquals(2, openAiRow.path("telemetry").path("records").asLong());
    assertEquals(20_000, openAiRow.path("telemetry").path("input_tokens").asLong());
    assertEquals(telemetryCost, openAiRow.path("telemetry").path("cost_micro_usd").asLong());
    assertEquals(served[0], openAiRow.path("reported").path("input_tokens").asLong());
    assertEquals(served[1], openAiRow.path("reported").path("output_tokens").asLong());
    assertEquals(served[2], openAiRow.path("billed_micro_usd").asLong());
    assertEquals(served[2] - telemetryCost, openAiRow.path("unexplained_micro_usd").asLong());
    assertEquals(served[0] + served[1] - 24_000, openAiRow.path("unseen_tokens").asLong());
    if (anthropicRow != null) {
      assertEquals(0, anthropicRow.path("telemetry").path("records").asLong());
      assertEquals(anthropic.day(day)[2], anthropicRow.path("billed_micro_usd").asLong());
    }
    call(422, "GET", "/atlas/v1/reports/reconcile?from=yesterday", acme.adminKey(), null);
    call(403, "GET", "/atlas/v1/reports/reconcile", acme.projectKey(), null);
  }

  @Test
  @Order(9)
  void thePriceBookAnswersPricesAsDecimalStringsWithoutTrailingZeros() {
    JsonNode book = call(200, "GET", "/atlas/v1/price-book", acme.adminKey(), null).json();
    assertTrue(book.path("entries").size() > 5);
    for (JsonNode e : book.path("entries")) {
      assertTrue(e.path("usd_per_mtok").isTextual(), e.toString());
      assertTrue(e.path("usd_per_mtok").asText().matches("(0|[1-9][0-9]*)(\\.[0-9]{0,5}[1-9])?"), e.toString());
    }
    JsonNode added = call(201, "POST", "/atlas/v1/price-book", operatorKey,
        "{\"provider\":\"probe\",\"model\":\"m\",\"token_type\":\"input\",\"usd_per_mtok\":10.100000}").json();
    assertEquals("10.1", added.path("usd_per_mtok").asText());
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private void assertTotals(Org org, String provider, FakeProviderReports.Totals served) {
    JsonNode report = report(org, "provider");
    assertEquals(served.inputTokens(), sum(report, "provider", provider, "input_tokens"), provider + " input tokens: " + report);
    assertEquals(served.outputTokens(), sum(report, "provider", provider, "output_tokens"), provider + " output tokens");
    assertEquals(served.requests(), sum(report, "provider", provider, "requests"), provider + " requests");
    assertEquals(served.costMicroUsd(), sum(report, "provider", provider, "cost_micro_usd"), provider + " cost");
  }

  private JsonNode report(Org org, String groupBy) {
    return call(200, "GET", "/atlas/v1/reports/spend?granularity=total&group_by=" + groupBy + "&from=" + backfillFrom.minus(5, ChronoUnit.DAYS)
        + "&to=" + today.plus(2, ChronoUnit.DAYS), org.adminKey(), null).json();
  }

  private static long sum(JsonNode report, String dimension, String value, String field) {
    long total = 0;
    for (JsonNode row : report.path("rows")) {
      if (value.equals(row.path(dimension).asText())) total += row.path(field).asLong();
    }
    return total;
  }

  private long ledgerRows(String orgId) throws Exception {
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement("SELECT COUNT(*), COALESCE(SUM(cost_micro_usd), 0), "
        + "COALESCE(SUM(input_tokens), 0) FROM usage_records WHERE org_id = ?")) {
      ps.setString(1, orgId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        // Count and sums folded into one number that changes when any of them does.
        return rs.getLong(1) * 1_000_003L + rs.getLong(2) * 31 + rs.getLong(3);
      }
    }
  }

  private Org org(String name) {
    String orgId = call(201, "POST", "/atlas/v1/orgs", operatorKey, "{\"name\":\"" + name + "\",\"kind\":\"enterprise\"}").id();
    String team = call(201, "POST", "/atlas/v1/orgs/" + orgId + "/teams", operatorKey, "{\"name\":\"platform\"}").id();
    String alpha = call(201, "POST", "/atlas/v1/teams/" + team + "/projects", operatorKey, "{\"name\":\"alpha\"}").id();
    String red = call(201, "POST", "/atlas/v1/teams/" + team + "/projects", operatorKey, "{\"name\":\"red\"}").id();
    String admin = call(201, "POST", "/atlas/v1/orgs/" + orgId + "/keys", operatorKey, "{\"name\":\"admin\",\"role\":\"admin\"}")
        .json().path("key").asText();
    String member = call(201, "POST", "/atlas/v1/orgs/" + orgId + "/keys", operatorKey, "{\"name\":\"member\",\"role\":\"member\"}")
        .json().path("key").asText();
    String project = call(201, "POST", "/atlas/v1/orgs/" + orgId + "/keys", operatorKey,
        "{\"name\":\"p\",\"role\":\"admin\",\"project_id\":\"" + alpha + "\"}").json().path("key").asText();
    assertNotNull(admin);
    return new Org(orgId, admin, member, project, alpha, red);
  }

  private ApiClient.Response call(int status, String method, String path, String key, String body) {
    ApiClient.Response r = api.call(method, path, key, body);
    responses.add(r.text());
    if (r.status() != status) throw new AssertionError(method + " " + path + ": expected " + status + ", got " + r.status() + ": " + r.text());
    return r;
  }
}
