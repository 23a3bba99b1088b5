package io.keld.node.clearing;

import java.util.stream.Stream;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Organization;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.node.cli.KeldCommand;
import io.keld.node.testing.DemoWorld;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The public book log and {@code keld verify} on a running node (MATCHING.md, "Verify it yourself"):
 * the demo enterprise's jobs, a second enterprise's bids and a provider organization's ask clear on
 * the summarize book beside the demo fleets; each tenant reads the log over HTTP and sees only its
 * own identities; {@code keld verify} fetches it and verifies every fill; a receipt fetched from the
 * node verifies, and an edited one does not.
 */
class BookLogEndToEndTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BOOK = "summarize";
  private static final Pattern JOB_IDS = Pattern.compile("job_[0-9a-z]{16}");
  private static final Pattern DEMO_PROVIDERS = Pattern.compile("prv_demo_[a-z]+");

  private static DemoWorld world;
  private static HttpClient http;
  private static String providerOrg;
  private static String providerKey;
  private static final List<String> demoJobs = new ArrayList<>();
  private static final List<String> rivalBids = new ArrayList<>();

  @BeforeAll
  static void tradeOnTheBook() throws Exception {
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    world = DemoWorld.start();
    // A provider organization with a key, and an ask of its own on the book, cheaper than the demo fleets'.
    Organization org = world.node.governance().tenancy().createOrganization("verify-provider", OrgKind.PROVIDER).toCompletableFuture().get(30, TimeUnit.SECONDS);
    providerOrg = org.id();
    KeyStore.IssuedKey key = world.node.governance().keys().issue(org.id(), null, null, Role.ADMIN, "verify", "test").toCompletableFuture().get(30, TimeUnit.SECONDS);
    providerKey = key.secret();
    book(new BookOp.PostAsk(new Ask("ask_verify_provider_1", providerOrg, "sim-small", BOOK, 250_000, 70, 1_000, 2, Ask.OPEN_FROM, Ask.OPEN_UNTIL,
        "local", Set.of("zdr"))));
    // The demo enterprise's jobs, over /ixp/v1.
    for (int i = 0; i < 6; i++) {
      JsonNode job = call("POST", "/ixp/v1/jobs", "{\"use_case\":\"summarize\",\"deadline\":\"PT30M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":"
          + (20_000 + i * 1_000) + "}", world.tenancy.apiKey(), 201);
      demoJobs.add(job.path("id").asText());
    }
    // Another enterprise's bids, straight on the book (its jobs are not the demo enterprise's).
    long now = System.currentTimeMillis();
    for (int i = 0; i < 4; i++) {
      String bid = "job_rival00000000000" + i + ".b1";
      rivalBids.add(bid);
      book(new BookOp.PlaceBid(new Bid(bid, BOOK, Set.of(), 0, i == 3 ? 1_000 : 2_000_000, 5_000, now + 600_000, now + 300_000, Set.of(), Set.of(),
          Set.of(), Set.of())));
    }
    awaitEveryDemoJobInClear();
  }

  /**
   * Whose bid is whose comes from the jobs read side ({@code ixp_jobs}), which a projection builds from
   * the journal, and a job places its bid after it answers 201: until both have happened the log shows
   * the demo enterprise's bids as pseudonyms. Wait for that (a loaded CI machine took seconds), so the
   * tests below read a settled log.
   */
  private static void awaitEveryDemoJobInClear() throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    Set<String> seen = Set.of();
    while (System.nanoTime() < end) {
      seen = found(JOB_IDS, fullLog(world.tenancy.apiKey()));
      if (seen.containsAll(demoJobs)) return;
      Thread.sleep(200);
    }
    throw new AssertionError("the demo enterprise's jobs never all showed in clear in its book log; seen " + seen + " of " + demoJobs);
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) world.close();
  }

  @Test
  void eachTenantReadsTheLogWithOnlyItsOwnIdentitiesInClear() throws Exception {
    // The demo enterprise: its own jobs' bids in clear, nobody else's identity.
    String asEnterprise = fullLog(world.tenancy.apiKey());
    JsonNode page = JSON.readTree(asEnterprise);
    assertEquals("book_log", page.path("object").asText());
    assertEquals("1.0", page.path("rules").path(0).path("version").asText());
    long seq = 0;
    for (JsonNode e : page.path("events")) assertEquals(++seq, e.path("seq").asLong(), "sequence numbers run from 1 without gaps");
    assertTrue(seq >= 10, "the log has the asks, bids and fills: " + seq);
    Set<String> jobsSeen = found(JOB_IDS, asEnterprise);
    assertFalse(jobsSeen.isEmpty(), "the demo enterprise sees its own bids");
    assertTrue(demoJobs.containsAll(jobsSeen), "only its own jobs: " + jobsSeen);
    assertTrue(page.path("you").size() > 0, "its own ids come with their pseudonyms");
    assertEquals(Set.of(), found(DEMO_PROVIDERS, asEnterprise));
    assertFalse(asEnterprise.contains(providerOrg));
    for (String bid : rivalBids) assertFalse(asEnterprise.contains(bid.substring(0, bid.indexOf('.'))), bid);

    // The provider organization: its own id, no one else's.
    String asProvider = fullLog(providerKey);
    assertTrue(asProvider.contains(providerOrg), "the provider sees its own id");
    assertEquals(Set.of(), found(JOB_IDS, asProvider));
    assertEquals(Set.of(), found(DEMO_PROVIDERS, asProvider));
    for (String bid : rivalBids) assertFalse(asProvider.contains(bid.substring(0, bid.indexOf('.'))), bid);
    // No ask id in clear either: the demo's are made of their providers' names.
    assertEquals(Set.of(), found(Pattern.compile("ask_(verify|demo)[a-z0-9_]*"), asProvider), "ask ids are pseudonyms");
  }

  @Test
  void keldVerifyFetchesTheLogAndVerifiesEveryFillAndReceipt(@TempDir Path dir) throws Exception {
    Path saved = dir.resolve("summarize.ndjson");
    Run run = keld("verify", "--url", world.baseUrl, "--key", world.tenancy.apiKey(), "--book", BOOK, "--save", saved.toString());
    assertEquals(0, run.exit, run.out + run.err);
    assertTrue(run.out.contains("VERIFIED"), run.out);
    long fills = run.out.lines().filter(l -> l.matches("seq \\d+  fil_summarize_\\d+  rules 1\\.0  verified: .*")).count();
    assertTrue(fills >= 6, "a verdict per fill: " + run.out);
    assertFalse(run.out.contains("MISMATCH"), run.out);

    // A receipt from the node, checked against the saved log and the published keys.
    JsonNode page = JSON.readTree(fullLog(world.tenancy.apiKey()));
    long fillSeq = -1;
    for (JsonNode e : page.path("events")) if (e.path("event").path("type").asText().equals("Filled")) fillSeq = e.path("seq").asLong();
    JsonNode receipt = call("GET", "/ixp/v1/books/summarize/receipts/" + fillSeq, null, world.tenancy.apiKey(), 200);
    assertEquals(fillSeq, receipt.path("seq").asLong());
    assertTrue(receipt.path("key_id").asText().startsWith("rk_"), receipt.toString());
    JsonNode keys = call("GET", "/ixp/v1/keys", null, null, 200);
    assertEquals("Ed25519", keys.path("keys").path(0).path("algorithm").asText());
    Path receiptFile = dir.resolve("receipt.json");
    Files.writeString(receiptFile, receipt.toString());
    Path keysFile = dir.resolve("keys.json");
    Files.writeString(keysFile, keys.toString());
    Run withReceipt = keld("verify", "--log", saved.toString(), "--keys", keysFile.toString(), "--receipt", receiptFile.toString(), "--summary");
    assertEquals(0, withReceipt.exit, withReceipt.out + withReceipt.err);
    assertTrue(withReceipt.out.contains("1 receipts checked"), withReceipt.out);

    // The same receipt with its price edited: the signature no longer holds; the message names the seq.
    ObjectNode edited = receipt.deepCopy();
    edited.put("price_per_mtok", receipt.path("price_per_mtok").asLong() - 1);
    Files.writeString(receiptFile, edited.toString());
    Run forged = keld("verify", "--log", saved.toString(), "--keys", keysFile.toString(), "--receipt", receiptFile.toString(), "--summary");
    assertEquals(1, forged.exit, forged.out + forged.err);
    assertTrue(forged.out.contains("MISMATCH seq " + fillSeq + ": receipt for fill"), forged.out);

    // A saved log with a fill's price changed: exit 1, naming the fill's seq.
    List<String> lines = new ArrayList<>(Files.readAllLines(saved));
    int at = -1;
    for (int i = 1; i < lines.size(); i++) if (lines.get(i).contains("\"type\":\"Filled\"")) at = i;
    JsonNode line = JSON.readTree(lines.get(at));
    ((ObjectNode) line.path("event").path("fill")).put("price_per_mtok", line.path("event").path("fill").path("price_per_mtok").asLong() + 1);
    lines.set(at, JSON.writeValueAsString(line));
    Path tampered = dir.resolve("tampered.ndjson");
    Files.write(tampered, lines);
    Run bad = keld("verify", "--log", tampered.toString(), "--summary");
    assertEquals(1, bad.exit, bad.out + bad.err);
    assertTrue(bad.out.contains("MISMATCH seq " + line.path("seq").asLong() + ": fill "), bad.out);
    assertTrue(bad.out.contains("NOT VERIFIED"), bad.out);

    // Not a log at all: exit 2 with a message.
    Path junk = dir.resolve("junk.ndjson");
    Files.writeString(junk, "hello\n");
    Run unreadable = keld("verify", "--log", junk.toString());
    assertEquals(2, unreadable.exit, unreadable.out + unreadable.err);
    assertTrue(unreadable.err.contains("not a book log header"), unreadable.err);
  }

  @Test
  void aJobsViewLinksTheReceiptOfItsFill() throws Exception {
    String job = demoJobs.get(0);
    JsonNode view = null;
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < end) {
      view = call("GET", "/ixp/v1/jobs/" + job, null, world.tenancy.apiKey(), 200);
      if (view.path("legs").path(0).hasNonNull("receipt")) break;
      Thread.sleep(200);
    }
    String link = view.path("legs").path(0).path("receipt").asText();
    assertTrue(link.matches("/ixp/v1/books/summarize/receipts/\\d+"), view.toString());
    JsonNode receipt = call("GET", link, null, world.tenancy.apiKey(), 200);
    assertEquals(view.path("legs").path(0).path("price_usd_per_mtok").decimalValue().movePointRight(6).longValueExact(),
        receipt.path("price_per_mtok").asLong(), "the receipt's price is the leg's");
    // The receipt is this job's fill: its bid is the job's (by pseudonym, as the job's own log page maps it).
    JsonNode page = JSON.readTree(fullLog(world.tenancy.apiKey()));
    JsonNode filled = null;
    for (JsonNode e : page.path("events")) if (e.path("seq").asLong() == receipt.path("seq").asLong()) filled = e.path("event");
    assertEquals("Filled", filled.path("type").asText());
    String bid = filled.path("fill").path("bid_id").asText();
    assertTrue(bid.startsWith(job + ".b"), "the receipt's fill is the job's own bid: " + bid);
    assertEquals(page.path("you").path(bid).asText(), receipt.path("bid_id").asText(), "the receipt names the bid by its pseudonym");
    assertEquals(filled.path("fill").path("price_per_mtok").asLong(), receipt.path("price_per_mtok").asLong());
  }

  @Test
  void badRequestsGetProblems() throws Exception {
    assertEquals(401, status("/ixp/v1/books/summarize/events", null));
    assertEquals(404, status("/ixp/v1/books/no-such-book/events", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/events?after=-1", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/events?after=abc", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/events?limit=0", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/events?limit=10001", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/events?from=3", world.tenancy.apiKey()));
    assertEquals(422, status("/ixp/v1/books/summarize/receipts/abc", world.tenancy.apiKey()));
    assertEquals(404, status("/ixp/v1/books/summarize/receipts/1", world.tenancy.apiKey()), "seq 1 is an ask, not a fill");
    assertEquals(404, status("/ixp/v1/books/summarize/receipts/999999", world.tenancy.apiKey()));
    // Paging: after and limit select exactly those events.
    JsonNode two = call("GET", "/ixp/v1/books/summarize/events?after=3&limit=2", null, world.tenancy.apiKey(), 200);
    assertEquals(2, two.path("events").size());
    assertEquals(4, two.path("events").path(0).path("seq").asLong());
    assertEquals(5, two.path("next_after").asLong());
    assertFalse(two.path("complete").asBoolean());
  }

  @Test
  void theStreamCarriesTheSameEventsLive() throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/books/summarize/events/stream?after=0"))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).timeout(Duration.ofSeconds(30)).build();
    HttpResponse<Stream<String>> r = http.send(request, HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/x-ndjson"));
    List<String> first = r.body().limit(5).toList();
    for (int i = 0; i < first.size(); i++) assertEquals(i + 1, JSON.readTree(first.get(i)).path("seq").asLong());
    assertEquals(5, first.size());
  }

  // -- helpers ------------------------------------------------------------------------------------

  record Run(int exit, String out, String err) {}

  static Run keld(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = new CommandLine(new KeldCommand());
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    int exit = cmd.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  static String fullLog(String key) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/books/summarize/events?limit=10000"))
        .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body();
  }

  static Set<String> found(Pattern p, String text) {
    Set<String> out = new HashSet<>();
    Matcher m = p.matcher(text);
    while (m.find()) out.add(m.group());
    return out;
  }

  static void book(BookOp op) throws Exception {
    BookResult r = world.node.books().submit(BOOK, op).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertTrue(r instanceof BookResult.Accepted, r.toString());
  }

  static int status(String path, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(Duration.ofSeconds(30));
    if (key != null) b.header("Authorization", "Bearer " + key);
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() >= 400) assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"), path + ": " + r.body());
    return r.statusCode();
  }

  static JsonNode call(String method, String path, String body, String key, int expected) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(Duration.ofSeconds(30));
    if (key != null) b.header("Authorization", "Bearer " + key);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), path + ": " + r.body());
    return JSON.readTree(r.body());
  }
}
