package io.keld.node.cli;

import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.keld.exchange.clearing.BookLogRoutes;
import io.keld.exchange.clearing.BookLogs;
import io.keld.exchange.clearing.ClearingKeyStore.PublishedKey;
import io.keld.kit.Json;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.clearing.BookLogEntry;
import io.keld.marketplace.clearing.BookLogVerifier;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.marketplace.clearing.ReceiptKeys;
import io.keld.marketplace.clearing.ReceiptSigner;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code keld verify}: replays a book's public log with the published rules and checks every fill
 * (MATCHING.md, "Verify it yourself"). The log comes from a node ({@code --url}, {@code --book}) or
 * from a file saved earlier ({@code --log}); receipts given with {@code --receipt} are checked against
 * the log and the published keys. Prints a verdict per fill; exits 1 on any mismatch, naming its
 * sequence number, and 2 when the log cannot be read.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = {
      "Replay a book's public log with the published matching rules and check every fill and receipt.",
      "Exit status: 0 every fill verified, 1 a mismatch (printed with its seq), 2 the log or keys could not be read."})
public final class VerifyCommand implements Callable<Integer> {

  /**
   * The first line of a saved log file (the book, its rules) and, as {@code book_log_aliases}, its
   * last: the reader's own ids shown in clear with their pseudonyms, which receipts carry.
   */
  public record LogHeader(String object, String book, List<MatchingRules> rules, Map<String, String> you) {}

  public static final String HEADER = "book_log_header";
  static final String ALIASES = "book_log_aliases";

  static final int PAGE = 10_000;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--url", paramLabel = "URL", description = "The node to fetch the log from (default: $KELD_URL or http://localhost:8080).")
  String url;

  @Option(names = "--key", paramLabel = "KEY", description = "API key to read the log with (default: $KELD_API_KEY).")
  String key;

  @Option(names = "--book", paramLabel = "USE_CASE", description = "The book (use case) to fetch from the node.")
  String book;

  @Option(names = "--log", paramLabel = "FILE", description = "Verify a saved log (ndjson: a header line, then one event per line) instead of fetching one.")
  Path logFile;

  @Option(names = "--save", paramLabel = "FILE", description = "Also save the fetched log to FILE, for verifying later with --log.")
  Path saveTo;

  @Option(names = "--receipt", paramLabel = "FILE", description = "A fill receipt to check (JSON, or ndjson of several); repeatable.")
  List<Path> receiptFiles = new ArrayList<>();

  @Option(names = "--keys", paramLabel = "FILE", description = "The published receipt keys (GET /ixp/v1/keys saved); default: fetched from the node.")
  Path keysFile;

  @Option(names = "--summary", description = "Print only mismatches and the summary, not a line per fill.")
  boolean summaryOnly;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if ((logFile == null) == (book == null)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "give either --book (fetch from a node) or --log (a saved log)");
    }
    try {
      List<FillReceipt> receipts = readReceipts();
      ReceiptKeys keys = receipts.isEmpty() ? null : keys();
      long started = System.nanoTime();
      BookLogVerifier.Report report = logFile != null ? verifyFile(logFile, receipts, keys) : verifyFromNode(receipts, keys);
      double seconds = (System.nanoTime() - started) / 1e9;
      print(report, out, seconds);
      out.flush();
      return report.ok() ? 0 : 1;
    } catch (IOException | IllegalArgumentException | IllegalStateException e) {
      err.println("keld verify: " + e.getMessage());
      err.flush();
      return 2;
    }
  }

  // -- sources ------------------------------------------------------------------------------------

  /** Reads a saved log line by line: a header, then entries in order. */
  public static BookLogVerifier.Report verifyFile(Path file, List<FillReceipt> receipts, ReceiptKeys keys) throws IOException {
    ObjectReader entries = Json.WIRE.readerFor(BookLogEntry.class);
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String first = in.readLine();
      if (first == null) throw new IOException(file + " is empty");
      LogHeader header;
      try {
        header = Json.WIRE.readValue(first, LogHeader.class);
      } catch (IOException e) {
        throw new IOException(file + ": the first line is not a book log header: " + e.getMessage(), e);
      }
      if (!HEADER.equals(header.object()) || header.book() == null || header.rules() == null) {
        throw new IOException(file + ": the first line is not a book log header (object " + HEADER + ", book, rules)");
      }
      BookLogVerifier verifier = new BookLogVerifier(header.book(), header.rules(), receipts, keys, header.you(), true);
      String line;
      long lineNo = 1;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) continue;
        if (line.startsWith("{\"object\"")) {
          LogHeader aliases = Json.WIRE.readValue(line, LogHeader.class);
          if (aliases.you() != null) verifier.addAliases(aliases.you());
          continue;
        }
        BookLogEntry entry;
        try {
          entry = entries.readValue(line);
        } catch (IOException e) {
          throw new IOException(file + " line " + lineNo + " is not a book log event: " + e.getMessage(), e);
        }
        verifier.accept(entry);
      }
      return verifier.finish();
    }
  }

  /** Pages through the node's log from seq 1, verifying as it goes (and saving, with --save). */
  private BookLogVerifier.Report verifyFromNode(List<FillReceipt> receipts, ReceiptKeys keys) throws IOException, InterruptedException {
    ObjectWriter lines = Json.WIRE.writer();
    BufferedWriter save = saveTo == null ? null : Files.newBufferedWriter(saveTo, StandardCharsets.UTF_8);
    try {
      BookLogVerifier verifier = null;
      Map<String, String> you = new LinkedHashMap<>();
      long after = 0;
      BookLogs.Page page;
      do {
        page = get("/ixp/v1/books/" + URLEncoder.encode(book, StandardCharsets.UTF_8) + "/events?after=" + after + "&limit=" + PAGE, BookLogs.Page.class);
        if (verifier == null) {
          verifier = new BookLogVerifier(book, page.rules(), receipts, keys, Map.of(), true);
          if (save != null) {
            save.write(lines.writeValueAsString(new LogHeader(HEADER, book, page.rules(), null)));
            save.newLine();
          }
        }
        verifier.addAliases(page.you());
        you.putAll(page.you());
        for (BookLogEntry e : page.events()) {
          verifier.accept(e);
          if (save != null) {
            save.write(lines.writeValueAsString(e));
            save.newLine();
          }
        }
        after = page.nextAfter();
      } while (!page.complete() && !page.events().isEmpty());
      if (save != null) {
        save.write(lines.writeValueAsString(new LogHeader(ALIASES, book, null, you)));
        save.newLine();
      }
      return verifier.finish();
    } finally {
      if (save != null) save.close();
    }
  }

  private List<FillReceipt> readReceipts() throws IOException {
    ObjectReader reader = Json.WIRE.readerFor(FillReceipt.class);
    List<FillReceipt> out = new ArrayList<>();
    for (Path file : receiptFiles) {
      String text = Files.readString(file, StandardCharsets.UTF_8).trim();
      try {
        if (text.startsWith("[")) {
          out.addAll(Json.WIRE.readerForListOf(FillReceipt.class).readValue(text));
        } else {
          for (String line : text.split("\n")) if (!line.isBlank()) out.add(reader.readValue(line));
        }
      } catch (IOException e) {
        throw new IOException(file + " is not a fill receipt: " + e.getMessage(), e);
      }
    }
    return out;
  }

  private ReceiptKeys keys() throws IOException, InterruptedException {
    BookLogRoutes.KeyList list;
    if (keysFile != null) {
      list = Json.WIRE.readValue(keysFile.toFile(), BookLogRoutes.KeyList.class);
    } else if (logFile != null) {
      throw new CommandLine.ParameterException(spec.commandLine(), "checking receipts against a saved log needs --keys FILE (GET /ixp/v1/keys, saved)");
    } else {
      list = get("/ixp/v1/keys", BookLogRoutes.KeyList.class);
    }
    Map<String, PublicKey> byId = new LinkedHashMap<>();
    for (PublishedKey k : list.keys()) byId.put(k.keyId(), ReceiptSigner.decodePublic(k.publicKey()));
    return new ReceiptKeys(byId);
  }

  private <T> T get(String path, Class<T> type) throws IOException, InterruptedException {
    String base = url != null ? url : System.getenv().getOrDefault("KELD_URL", "http://localhost:8080");
    if (base.endsWith("/")) base = base.substring(0, base.length() - 1);
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).header("Accept", "application/json");
    String k = key != null ? key : System.getenv("KELD_API_KEY");
    if (k != null && !k.isBlank()) b.header("Authorization", "Bearer " + k.trim());
    HttpResponse<String> response;
    try {
      response = http.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IOException("cannot reach " + base + ": " + e.getMessage(), e);
    }
    if (response.statusCode() != 200) {
      throw new IOException("GET " + path + " answered " + response.statusCode() + ": " + response.body());
    }
    return Json.WIRE.readValue(response.body(), type);
  }

  // -- output -------------------------------------------------------------------------------------

  private void print(BookLogVerifier.Report report, PrintWriter out, double seconds) {
    if (!summaryOnly) {
      for (BookLogVerifier.FillVerdict v : report.fills()) {
        out.println("seq " + v.seq() + "  " + v.fillId() + "  rules " + v.ruleVersion() + "  " + (v.verified() ? "verified" : "MISMATCH") + ": "
            + v.detail());
      }
      for (BookLogVerifier.ReceiptVerdict r : report.receipts()) {
        out.println("receipt seq " + r.seq() + "  " + r.fillId() + "  " + (r.verified() ? "verified" : "MISMATCH") + ": " + r.detail());
      }
    }
    for (BookLogVerifier.Mismatch m : report.mismatches()) out.println("MISMATCH " + m.describe());
    out.printf("book %s: %d events (seq %d..%d), %d fills, %d verified, %d mismatches, %d receipts checked; replayed in %.2f s%n",
        report.book(), report.events(), report.firstSeq(), report.lastSeq(), report.fills().size(), report.fillsVerified(),
        report.mismatches().size(), report.receipts().size(), seconds);
    out.println(report.ok() ? "VERIFIED: every fill follows the published rules" : "NOT VERIFIED: see the mismatches above (first at seq "
        + report.mismatches().get(0).seq() + ")");
  }
}
