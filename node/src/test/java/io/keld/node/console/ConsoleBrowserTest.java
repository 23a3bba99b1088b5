package io.keld.node.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.node.http.ConsoleRoutes;
import io.keld.node.testing.DemoWorld;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;

/**
 * The Keld Console in a real headless Chromium against a demo node with seeded usage: sign-in, the
 * overview's totals against the API's report, the treemap's leaves against the total, filters in the
 * URL, the CSV download against the API's CSV, a job page following a running job live, what a
 * read-only key sees (and what the API refuses it), another tenant's data nowhere, a 390 px window,
 * dark mode, and no error in the browser's console on any page. Screenshots of every view go to
 * {@code node/target/console-screenshots/}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  /** Names only the other tenant's data carries: they must never reach this tenant's pages. */
  private static final String OTHER_TENANT_PROJECT = "GlobexSecretProject";
  private static final String OTHER_TENANT_MODEL = "gpt-4.1-nano";
  private static final List<String> MODELS = List.of("gpt-4o-mini", "gpt-4o", "gpt-4.1");

  private static ConsoleBrowser browser;
  private static DemoWorld world;
  private static String admin;
  private static String readOnly;
  private static String operator;
  private static String crawlerProject;

  @BeforeAll
  static void start() throws Exception {
    browser = ConsoleBrowser.start();
    world = DemoWorld.start();
    admin = world.tenancy.adminKey();
    Governance g = world.node.governance();
    Team research = g.tenancy().createTeam(world.tenancy.orgId(), "Research").toCompletableFuture().get(30, TimeUnit.SECONDS);
    Project crawler = g.tenancy().createProject(research, "Crawler").toCompletableFuture().get(30, TimeUnit.SECONDS);
    crawlerProject = crawler.id();
    readOnly = g.keys().issue(world.tenancy.orgId(), null, null, Role.READ_ONLY, "viewer", "test").toCompletableFuture()
        .get(30, TimeUnit.SECONDS).secret();
    operator = g.keys().issueOperatorKey(g.tenancy(), "console-test").secret();

    // This tenant: usage over this month and last month, two teams, three models.
    seed(world.tenancy.orgId(), List.of(world.tenancy.projectId(), crawlerProject), MODELS, "acme");
    // Another tenant, with usage in the same hours: none of it may appear.
    Organization globex = g.tenancy().createOrganization("Globex", Principal.OrgKind.ENTERPRISE).toCompletableFuture().get(30, TimeUnit.SECONDS);
    Team globexTeam = g.tenancy().createTeam(globex.id(), "GlobexTeam").toCompletableFuture().get(30, TimeUnit.SECONDS);
    Project globexProject = g.tenancy().createProject(globexTeam, OTHER_TENANT_PROJECT).toCompletableFuture().get(30, TimeUnit.SECONDS);
    seed(globex.id(), List.of(globexProject.id()), List.of(OTHER_TENANT_MODEL), "globex");
  }

  /** 40 days of hourly-ish usage ending now, per project and model, priced by the price book. */
  private static void seed(String orgId, List<String> projects, List<String> models, String prefix) throws Exception {
    Principal key = new Principal("key_test", orgId, Principal.OrgKind.ENTERPRISE, Role.ADMIN, null, null);
    Instant now = Instant.now().truncatedTo(ChronoUnit.HOURS);
    List<SpendIngest.Incoming> incoming = new ArrayList<>();
    int n = 0;
    for (int hour = 1; hour <= 40 * 24; hour += 5) {
      for (int p = 0; p < projects.size(); p++) {
        for (int m = 0; m < models.size(); m++) {
          UsageRecord r = new UsageRecord();
          r.orgId = orgId;
          r.source = UsageRecord.Sources.OTLP;
          r.sourceEventId = prefix + "-" + n++;
          r.projectId = projects.get(p);
          r.periodStart = now.minus(hour, ChronoUnit.HOURS).plusSeconds(60L * m);
          r.periodEnd = r.periodStart.plusSeconds(2);
          r.provider = "openai";
          r.modelRequested = models.get(m);
          r.operation = "chat";
          r.serviceName = prefix + "-service-" + p;
          r.inputTokens = 1_000L * (1 + m + p) + hour;
          r.cachedInputTokens = 200L * (m + 1);
          r.outputTokens = 300L * (1 + p) + m;
          r.reasoningTokens = m == 2 ? 50 : 0;
          incoming.add(new SpendIngest.Incoming(r, Map.of("service.name", r.serviceName)));
        }
      }
    }
    world.node.spend().ingest().ingest(key, incoming).toCompletableFuture().get(120, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (browser != null) browser.close();
    } finally {
      if (world != null) world.close();
    }
  }

  /** After every step: nothing went to the browser's console as an error, and nothing of the other tenant is on the page. */
  @AfterEach
  void cleanConsoleAndNoOtherTenant() {
    assertEquals(List.of(), browser.errors(), "errors in the browser's console");
    assertNoOtherTenant();
  }

  private static void assertNoOtherTenant() {
    String page = browser.driver.getPageSource();
    assertFalse(page.contains(OTHER_TENANT_PROJECT) || page.contains(OTHER_TENANT_MODEL) || page.contains("GlobexTeam"),
        "another tenant's data on the page " + browser.driver.getCurrentUrl());
  }

  // -- sign-in and overview ------------------------------------------------------------------------

  @Test
  @Order(1)
  void thePageIsServedWithAStrictContentSecurityPolicy() throws Exception {
    HttpResponse<String> page = get("/console/", null);
    assertEquals(200, page.statusCode());
    assertEquals(ConsoleRoutes.CONTENT_SECURITY_POLICY, page.headers().firstValue("Content-Security-Policy").orElse(""));
    assertFalse(page.body().contains("<script>"), "no inline script");
    HttpResponse<String> lib = get("/console/lib/echarts.esm.min.js", null);
    assertEquals(200, lib.statusCode());
    assertTrue(lib.headers().firstValue("Content-Type").orElse("").contains("javascript"));
    assertTrue(lib.body().contains("export"), "ECharts as an ES module");
    assertEquals(404, get("/console/..%2Fkeld-config%2Fdev.conf", null).statusCode());
    assertEquals(404, get("/console/lib/react.js", null).statusCode());
    assertEquals(308, get("/console", null).statusCode());
    // Revalidated, not fetched again: an unchanged file is a 304 for the ETag it was served with.
    String etag = lib.headers().firstValue("ETag").orElseThrow();
    HttpResponse<String> again = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/console/lib/echarts.esm.min.js"))
        .header("If-None-Match", etag).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(304, again.statusCode());
    assertEquals("no-cache", again.headers().firstValue("Cache-Control").orElse(""));
  }

  @Test
  @Order(2)
  void signInShowsTheOverviewWithTheReportsTotals() throws Exception {
    browser.driver.get(world.baseUrl + "/console/");
    WebElement key = browser.await("#key");
    browser.screenshot("sign-in");
    // Keyboard only: the key, then Enter.
    key.sendKeys(admin, Keys.ENTER);
    WebElement total = browser.await("#overview-total");
    browser.await("#movers");
    String from = total.getAttribute("data-from");
    String to = total.getAttribute("data-to");
    JsonNode report = api("/atlas/v1/reports/spend?granularity=total&from=" + from + "&to=" + to, admin);
    long apiTotal = report.path("totals").path("cost_micro_usd").asLong();
    assertTrue(apiTotal > 0, "seeded usage this month: " + report);
    assertEquals(apiTotal, Long.parseLong(total.getAttribute("data-micro-usd")), "the overview's month to date is the report's total");
    assertTrue(browser.driver.getCurrentUrl().endsWith("#/overview"), browser.driver.getCurrentUrl());
    // The key is in the tab's session storage, not in a cookie.
    assertEquals(admin, browser.js("return sessionStorage.getItem('keld-console-key')"));
    assertEquals(0, browser.driver.manage().getCookies().size());
    assertTrue(browser.await("#budgets").getText().contains("project"), "the demo project's budget is shown");
    browser.screenshot("overview");
  }

  // -- spend map -----------------------------------------------------------------------------------

  @Test
  @Order(3)
  void theTreemapsLeavesSumToTheTotal() throws Exception {
    Range range = Range.last(30);
    browser.driver.get(world.baseUrl + "/console/#/map?levels=team,project,model&metric=cost&group=model&granularity=day&from="
        + range.from + "&to=" + range.to);
    browser.await("#treemap-leaves");
    long shown = Long.parseLong(browser.await("#map-total").getAttribute("data-value"));
    long leaves = browser.driver.findElements(By.cssSelector("#treemap-leaves td[data-value]")).stream()
        .mapToLong(td -> Long.parseLong(td.getAttribute("data-value"))).sum();
    JsonNode report = api("/atlas/v1/reports/spend?granularity=total&from=" + range.from + "&to=" + range.to, admin);
    assertEquals(report.path("totals").path("cost_micro_usd").asLong(), shown, "the map's total is the report's");
    assertEquals(shown, leaves, "the treemap's leaves sum to the total");
    // 2 projects × 3 models, each under its team.
    assertEquals(6, browser.driver.findElements(By.cssSelector("#treemap-leaves tbody tr")).size());
    browser.screenshot("spend-map");
  }

  @Test
  @Order(4)
  void aFilterChangesTheUrlAndTheTable() throws Exception {
    int before = browser.driver.findElements(By.cssSelector("#explorer-table tbody tr")).size();
    WebElement filter = browser.await("#filter-model");
    filter.sendKeys("gpt-4o", Keys.ENTER);
    browser.awaitTrue("the URL holds the filter", () -> browser.driver.getCurrentUrl().contains("model=gpt-4o&")
        || browser.driver.getCurrentUrl().endsWith("model=gpt-4o"));
    browser.awaitTrue("the table shows one model", () -> {
      List<WebElement> rows = browser.driver.findElements(By.cssSelector("#explorer-table tbody tr"));
      return !rows.isEmpty() && rows.size() < before
          && rows.stream().allMatch(r -> r.findElements(By.tagName("td")).get(1).getText().equals("gpt-4o"));
    });
    Map<String, String> state = hashParams();
    JsonNode report = api("/atlas/v1/reports/spend?granularity=day&group_by=model&model=gpt-4o&from=" + state.get("from")
        + "&to=" + state.get("to"), admin);
    assertEquals(report.path("rows").size(), browser.driver.findElements(By.cssSelector("#explorer-table tbody tr")).size());
    // Reloading the URL gives the same view: the state is in the URL, not in the page.
    browser.driver.navigate().refresh();
    browser.await("#explorer-table");
    assertEquals("gpt-4o", browser.await("#filter-model").getAttribute("value"));
    browser.screenshot("spend-map-filtered");
  }

  @Test
  @Order(5)
  void theCsvDownloadIsTheApisCsv() throws Exception {
    Map<String, String> state = hashParams();
    browser.await("#download-csv").click();
    Path file = browser.downloads.resolve("spend-report.csv");
    browser.awaitTrue("the CSV is downloaded", () -> Files.exists(file) && sizeSettled(file));
    String expected = get("/atlas/v1/reports/spend?format=csv&granularity=" + state.get("granularity") + "&group_by=" + state.get("group")
        + "&model=gpt-4o&from=" + state.get("from") + "&to=" + state.get("to"), admin).body();
    assertTrue(expected.lines().count() > 2, expected);
    assertEquals(expected, Files.readString(file), "the downloaded CSV is what the API answers for the same query");

    browser.await("#download-focus").click();
    Path focus = browser.downloads.resolve("focus-1.2.csv");
    browser.awaitTrue("the FOCUS export is downloaded", () -> Files.exists(focus) && sizeSettled(focus));
    assertTrue(Files.readString(focus).startsWith("BilledCost,"), "a FOCUS dataset");
  }

  @Test
  @Order(6)
  void tokenTypesShowTheReportsTokensAndCosts() throws Exception {
    browser.driver.get(world.baseUrl + "/console/#/tokens");
    browser.await("#token-types");
    Map<String, String> state = hashParams();
    JsonNode report = api("/atlas/v1/reports/spend?granularity=total&group_by=provider,model&from=" + state.get("from") + "&to="
        + state.get("to"), admin);
    long recorded = browser.driver.findElements(By.cssSelector("#token-types td[data-micro-usd]")).stream()
        .mapToLong(td -> Long.parseLong(td.getAttribute("data-micro-usd"))).sum();
    assertEquals(report.path("totals").path("cost_micro_usd").asLong(), recorded);
    assertEquals(MODELS.size(), browser.driver.findElements(By.cssSelector("#token-types tbody tr")).size());
    assertFalse(browser.await("#token-types").getText().contains("not in the price book"), "every seeded model is priced");
    browser.screenshot("token-types");
  }

  // -- jobs ------------------------------------------------------------------------------------------

  @Test
  @Order(7)
  void aJobsPageFollowsTheJobLive() throws Exception {
    JsonNode job = send("POST", "/ixp/v1/jobs", "{\"use_case\":\"summarize\",\"deadline\":\"PT10M\",\"ceiling_usd_per_mtok\":2,"
        + "\"estimated_tokens\":4000}", world.tenancy.apiKey());
    String id = job.path("id").asText();
    assertTrue(id.startsWith("job_"), job.toString());
    browser.driver.get(world.baseUrl + "/console/#/jobs/" + id);
    browser.await("#job-state");
    browser.awaitTrue("the page follows the job", () -> browser.attributeNow("#job-live", "data-events") != null);
    String firstState = browser.await("#job-state").getAttribute("data-state");
    int firstTimeline = browser.driver.findElements(By.cssSelector("#job-timeline li")).size();
    // A marker in the page: if anything reloaded the page, it would be gone.
    browser.js("window.__sameDocument = true");

    CompletableFuture<HttpResponse<String>> upload = http.sendAsync(HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/jobs/" + id + "/items"))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).header("Content-Type", "application/x-ndjson")
        .timeout(Duration.ofSeconds(120))
        .POST(HttpRequest.BodyPublishers.ofString(IntStream.range(0, 20).mapToObj(i -> "{\"custom_id\":\"c-" + i
            + "\",\"body\":{\"max_tokens\":40,\"messages\":[{\"role\":\"user\",\"content\":\"text " + i + "\"}]}}")
            .collect(Collectors.joining("\n")) + "\n")).build(), HttpResponse.BodyHandlers.ofString());
    // The 20 items run through the demo's simulated fleets: on a loaded 2-core CI machine that takes more than 30 s.
    browser.awaitTrue("the page shows the job completed and settled", Duration.ofSeconds(150), () ->
        "completed".equals(browser.attributeNow("#job-state", "data-state"))
            && "true".equals(browser.attributeNow("#job-live", "data-ended")));
    assertEquals(200, upload.get(120, TimeUnit.SECONDS).statusCode());
    assertEquals(Boolean.TRUE, browser.js("return window.__sameDocument === true"), "updated in place, not reloaded");
    assertNotEquals("completed", firstState);
    int events = Integer.parseInt(browser.await("#job-live").getAttribute("data-events"));
    assertTrue(events > 1, "more than the first event arrived: " + events);
    assertTrue(browser.driver.findElements(By.cssSelector("#job-timeline li")).size() > firstTimeline, "the timeline grew");
    assertEquals("20 answered", browser.await("#job-items").getText());
    JsonNode settled = api("/ixp/v1/jobs/" + id, admin);
    assertEquals(settled.path("cost_micro_usd").asLong(), Long.parseLong(browser.await("#job-cost").getAttribute("data-micro-usd")));
    assertEquals(1, browser.driver.findElements(By.cssSelector("#job-legs tbody tr")).size());
    browser.screenshot("job");

    // The list reads the jobs read side, a projection of the journal: on a loaded CI machine it may show the
    // job's completion seconds after the job's own page did (CI failed once on a 30 s wait). Reload every 5 s.
    browser.driver.get(world.baseUrl + "/console/#/jobs?state=completed");
    long[] loadedAt = {System.nanoTime()};
    browser.awaitTrue("the list shows the job under its state", Duration.ofSeconds(150), () -> {
      String table = browser.textNow("#jobs-table");
      if (table != null && table.contains(id)) return true;
      if (System.nanoTime() - loadedAt[0] > TimeUnit.SECONDS.toNanos(5)) {
        browser.driver.navigate().refresh();
        loadedAt[0] = System.nanoTime();
      }
      return false;
    });
    assertEquals("completed", browser.await("#job-state").getAttribute("value"));
    browser.screenshot("jobs");
  }

  // -- recommendations, keys and roles ---------------------------------------------------------------

  @Test
  @Order(8)
  void recommendationsAreShown() throws Exception {
    browser.driver.get(world.baseUrl + "/console/#/recommendations");
    browser.await("#recommendations-total");
    browser.screenshot("recommendations");
  }

  @Test
  @Order(9)
  void anAdminIssuesAKeySeenOnceAndAReadOnlyKeyCannot() throws Exception {
    browser.driver.get(world.baseUrl + "/console/#/keys");
    browser.await("#keys-table");
    browser.await("#key-name").sendKeys("console-made");
    browser.await("#create-key").click();
    String secret = browser.await("#issued-secret").getText();
    assertTrue(secret.startsWith("keld_"), secret);
    assertEquals(200, get("/atlas/v1/me", secret).statusCode(), "the key the console issued works");
    browser.awaitTrue("the new key is listed", () -> browser.await("#keys-table").getText().contains("console-made"));
    assertFalse(browser.await("#keys-table").getText().contains(secret), "the list never shows a secret");
    browser.screenshot("keys");
    browser.driver.navigate().refresh();
    browser.await("#keys-table");
    assertFalse(browser.driver.getPageSource().contains(secret), "the secret is shown once only");

    signInAs(readOnly);
    assertTrue(browser.driver.findElements(By.cssSelector("nav a[href='#/keys']")).isEmpty(), "no Keys view for a read-only key");
    browser.driver.get(world.baseUrl + "/console/#/keys");
    browser.await("#overview-total");
    assertTrue(browser.driver.findElements(By.id("create-key")).isEmpty(), "no create button");
    assertTrue(browser.driver.findElements(By.cssSelector("button.revoke")).isEmpty(), "no revoke button");
    // And the API refuses it anyway.
    assertEquals(403, sendStatus("POST", "/atlas/v1/orgs/" + world.tenancy.orgId() + "/keys", "{\"name\":\"x\",\"role\":\"admin\"}", readOnly));
    JsonNode me = api("/atlas/v1/me", secret);
    assertEquals(403, sendStatus("DELETE", "/atlas/v1/keys/" + me.path("key_id").asText(), null, readOnly));
  }

  @Test
  @Order(10)
  void aProviderSeesItsBookAsksAndStatement() throws Exception {
    Governance g = world.node.governance();
    Organization provider = g.tenancy().createOrganization("Console provider", Principal.OrgKind.PROVIDER).toCompletableFuture().get(30, TimeUnit.SECONDS);
    String key = g.keys().issue(provider.id(), null, null, Role.PROVIDER, "trader", "test").toCompletableFuture().get(30, TimeUnit.SECONDS).secret();
    send("POST", "/trade/v1/endpoints", "{\"name\":\"main\",\"base_url\":\"http://127.0.0.1:9/v1\",\"credential\":\"sk-console-test\"}", key);
    send("PUT", "/trade/v1/models/console-8b", "{\"use_cases\":[\"summarize\"],\"regions\":[\"eu\"]}", key);
    String ask = send("POST", "/trade/v1/asks", "{\"model\":\"console-8b\",\"use_case\":\"summarize\",\"price_per_mtok\":1234567,"
        + "\"quality\":80,\"throughput_tps\":5000,\"max_concurrency\":16}", key).path("id").asText();

    signInAs(key);
    assertTrue(browser.await("#asks").getText().contains(ask), "the provider's own ask is listed");
    browser.awaitTrue("the summarize book shows the ask's price level", () -> browser.await("#book-asks").getText().contains("$1.2346/Mtok"));
    assertTrue(browser.driver.findElements(By.cssSelector("nav a[href='#/map']")).isEmpty(), "no spend views for a provider key");
    browser.await("#statement-revenue");
    browser.screenshot("market");
  }

  @Test
  @Order(11)
  void anOperatorSeesTheCluster() throws Exception {
    signInAs(operator);
    browser.await("#members");
    assertTrue(browser.await("#readiness").getText().contains("ready"), browser.await("#readiness").getText());
    assertTrue(browser.await("#books").getText().contains("summarize"), "the demo books are hosted somewhere");
    assertTrue(browser.driver.findElements(By.cssSelector("nav a[href='#/map']")).isEmpty(), "no spend views for the operator key");
    browser.screenshot("cluster");
  }

  // -- narrow, dark, keyboard --------------------------------------------------------------------------

  @Test
  @Order(12)
  void aPhoneWideWindowAndDarkModeStayReadable() throws Exception {
    signInAs(admin);
    browser.resize(390, 844);
    for (String view : List.of("overview", "map", "jobs")) {
      browser.driver.get(world.baseUrl + "/console/#/" + view);
      browser.await(view.equals("overview") ? "#movers" : view.equals("map") ? "#treemap-leaves" : "#job-results table");
      long scrollWidth = ((Number) browser.js("return document.documentElement.scrollWidth")).longValue();
      long innerWidth = ((Number) browser.js("return window.innerWidth")).longValue();
      assertTrue(scrollWidth <= innerWidth, view + " fits 390 px: scrollWidth " + scrollWidth + " > " + innerWidth);
      browser.screenshot(view + "-390px");
    }
    browser.resize(1280, 900);
    for (String scheme : List.of("dark", "light")) {
      browser.colorScheme(scheme);
      browser.driver.get(world.baseUrl + "/console/#/map");
      browser.await("#treemap-leaves");
      double contrast = contrast(String.valueOf(browser.js("return getComputedStyle(document.body).color")),
          String.valueOf(browser.js("return getComputedStyle(document.body).backgroundColor")));
      assertTrue(contrast >= 7, scheme + ": text contrast " + contrast);
      double muted = contrast(String.valueOf(browser.js("return getComputedStyle(document.querySelector('.note')).color")),
          String.valueOf(browser.js("return getComputedStyle(document.body).backgroundColor")));
      assertTrue(muted >= 4.5, scheme + ": muted text contrast " + muted);
      if (scheme.equals("dark")) browser.screenshot("spend-map-dark");
    }
  }

  @Test
  @Order(13)
  void theViewsAreReachableByKeyboard() throws Exception {
    browser.driver.get(world.baseUrl + "/console/#/overview");
    browser.driver.navigate().refresh(); // a fresh page load: focus starts at the top
    browser.await("#movers");
    // Tab from the top: the skip link, then the views; Enter opens one.
    new Actions(browser.driver).sendKeys(Keys.TAB).perform();
    assertEquals("Skip to content", browser.driver.switchTo().activeElement().getText());
    WebElement active = null;
    for (int i = 0; i < 4; i++) {
      new Actions(browser.driver).sendKeys(Keys.TAB).perform();
      active = browser.driver.switchTo().activeElement();
      if (String.valueOf(active.getAttribute("href")).endsWith("#/tokens")) break;
    }
    assertTrue(String.valueOf(active.getAttribute("href")).endsWith("#/tokens"), "Tab reaches the views: " + active.getText());
    new Actions(browser.driver).sendKeys(Keys.ENTER).perform();
    browser.await("#token-types");
    // Focus moves to the new view's content, so the next Tab continues there.
    browser.awaitTrue("focus on the view", () -> "main".equals(browser.driver.switchTo().activeElement().getAttribute("id")));
  }

  // -- helpers ---------------------------------------------------------------------------------------

  private static void signInAs(String key) {
    List<WebElement> signOut = browser.driver.findElements(By.id("sign-out"));
    if (signOut.isEmpty()) browser.driver.get(world.baseUrl + "/console/");
    else signOut.get(0).click();
    browser.await("#key").sendKeys(key, Keys.ENTER);
    browser.await("#who button");
  }

  /** The console's view state: the query of the URL's fragment. */
  private static Map<String, String> hashParams() {
    String url = browser.driver.getCurrentUrl();
    String q = url.substring(url.indexOf('?', url.indexOf('#')) + 1);
    Map<String, String> out = new LinkedHashMap<>();
    for (String pair : q.split("&")) {
      int eq = pair.indexOf('=');
      out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return out;
  }

  private static boolean sizeSettled(Path file) {
    try {
      long a = Files.size(file);
      Thread.sleep(200);
      return a > 0 && a == Files.size(file) && Stream.of(file.getParent().toFile().list()).noneMatch(n -> n.endsWith(".crdownload"));
    } catch (Exception e) {
      return false;
    }
  }

  /** WCAG contrast ratio of two CSS rgb()/rgba() colours. */
  static double contrast(String a, String b) {
    double la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  private static double luminance(String css) {
    String[] parts = css.replaceAll("[^0-9.,]", "").split(",");
    double[] c = new double[3];
    for (int i = 0; i < 3; i++) {
      double v = Double.parseDouble(parts[i]) / 255;
      c[i] = v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  record Range(String from, String to) {
    static Range last(int days) {
      ZonedDateTime to = ZonedDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).plusHours(1);
      return new Range(to.minusDays(days).toInstant().toString(), to.toInstant().toString());
    }
  }

  private static HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).GET();
    if (key != null) b.header("Authorization", "Bearer " + key);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode api(String path, String key) throws Exception {
    HttpResponse<String> r = get(path, key);
    assertEquals(200, r.statusCode(), path + ": " + r.body());
    return JSON.readTree(r.body());
  }

  private static JsonNode send(String method, String path, String body, String key) throws Exception {
    HttpResponse<String> r = http.send(request(method, path, body, key), HttpResponse.BodyHandlers.ofString());
    assertTrue(r.statusCode() / 100 == 2, method + " " + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  private static int sendStatus(String method, String path, String body, String key) throws Exception {
    return http.send(request(method, path, body, key), HttpResponse.BodyHandlers.ofString()).statusCode();
  }

  private static HttpRequest request(String method, String path, String body, String key) {
    return HttpRequest.newBuilder(URI.create(world.baseUrl + path)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
  }
}
