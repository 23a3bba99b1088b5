package io.keld.atlas.spend.prices;

import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.kit.sql.Sql;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Comparator;

/**
 * Effective-dated list prices per provider, model and token type, in micro-USD per million tokens.
 * Prices a usage record that carries no cost, and gives every record its list cost. A new price is
 * a new entry from its effective time on: records already in the ledger keep the cost and the
 * {@code price_ref} they were priced at, so a price change never rewrites history.
 *
 * <p>The whole book is held in memory (a few thousand entries at most) and reloaded after each edit
 * on this node and every {@code refresh} on the others.
 */
public final class PriceBook {

  public static final List<String> TOKEN_TYPES = List.of("input", "cached_input", "cache_write", "output");
  /** Provider name in the book that matches any provider (for a model sold by many). */
  public static final String ANY_PROVIDER = "*";

  /** One entry of the book. */
  public record Entry(long id, String provider, String model, String tokenType, long microUsdPerMtok, Instant effectiveFrom, String origin) {}

  private static final BigInteger MILLION = BigInteger.valueOf(1_000_000);

  /** The seed file: {@code #} starts a comment line; a field may be quoted; spaces around a field are padding. */
  private static final CSVFormat SEED = CSVFormat.RFC4180.builder().setCommentMarker('#').setIgnoreSurroundingSpaces(true).get();

  private final Sql sql;
  private final Clock clock;
  /** provider|model|tokenType → effective time → entry. */
  private volatile Map<String, NavigableMap<Instant, Entry>> book = Map.of();
  /** The models the book knows, per provider, longest first (for prefix matches of dated model names). */
  private volatile Map<String, List<String>> models = Map.of();

  public PriceBook(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  /**
   * Adds the seed file's entries that are not in the book yet (same provider, model, token type and
   * effective time), then loads the book. Safe to run on several nodes at once: each entry is added
   * once (one statement each, in auto-commit, so a lost race on one entry does not undo the others). The file is CSV with a header:
   * {@code provider,model,token_type,usd_per_mtok,effective_from}.
   *
   * @return the number of seed entries added
   */
  public int seedAndLoad(String csv, String origin) {
    List<Entry> entries = parseCsv(csv, origin);
    int added = sql.now(c -> {
      int n = 0;
      for (Entry e : entries) {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM price_book WHERE provider = ? AND model = ? AND token_type = ? "
            + "AND effective_from = ?")) {
          Sql.bind(ps, e.provider(), e.model(), e.tokenType(), e.effectiveFrom());
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) continue;
          }
        }
        try {
          n += insert(c, e);
        } catch (SQLException raced) {
          // Nodes started together on a fresh database seed at once; the entry is in the book either way.
          if (!Sql.isUniqueViolation(raced)) throw raced;
        }
      }
      return n;
    });
    reload();
    return added;
  }

  /** Parses the seed CSV; a bad line fails with its line number. */
  public static List<Entry> parseCsv(String csv, String origin) {
    List<Entry> out = new ArrayList<>();
    try (CSVParser parser = CSVParser.builder().setReader(new StringReader(csv)).setFormat(SEED).get()) {
      Iterator<CSVRecord> records = parser.iterator();
      while (hasNext(records, parser)) {
        CSVRecord f = records.next();
        // The parser has just read the record's line: single-line records, so its number is the record's.
        long no = parser.getCurrentLineNumber();
        if ((f.size() == 1 && f.get(0).isEmpty()) || f.get(0).equals("provider")) continue; // a blank line, the header
        if (f.size() != 5) throw new IllegalArgumentException("price book line " + no + ": expected 5 fields, got " + f.size());
        try {
          out.add(entry(f.get(0), f.get(1), f.get(2), new BigDecimal(f.get(3)), Instant.parse(f.get(4)), origin));
        } catch (NumberFormatException | DateTimeParseException e) {
          throw new IllegalArgumentException("price book line " + no + ": " + e.getMessage());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringReader does not fail
    }
    return out;
  }

  /** Whether there is another record; malformed quoting fails with the line it was found on. */
  private static boolean hasNext(Iterator<CSVRecord> records, CSVParser parser) {
    try {
      return records.hasNext();
    } catch (UncheckedIOException malformed) {
      throw new IllegalArgumentException("price book line " + parser.getCurrentLineNumber() + ": " + malformed.getCause().getMessage());
    }
  }

  /** Validates and normalises one entry (USD per Mtok, at most 6 decimals). */
  public static Entry entry(String provider, String model, String tokenType, BigDecimal usdPerMtok, Instant effectiveFrom, String origin) {
    if (provider == null || provider.isBlank() || model == null || model.isBlank()) {
      throw new IllegalArgumentException("provider and model are required");
    }
    if (tokenType == null || !TOKEN_TYPES.contains(tokenType)) throw new IllegalArgumentException("token_type must be one of " + TOKEN_TYPES);
    if (usdPerMtok == null) throw new IllegalArgumentException("usd_per_mtok is required");
    if (effectiveFrom == null) throw new IllegalArgumentException("effective_from is required");
    if (usdPerMtok.signum() < 0 || usdPerMtok.compareTo(BigDecimal.valueOf(1_000_000)) > 0 || usdPerMtok.stripTrailingZeros().scale() > 6) {
      throw new IllegalArgumentException("usd_per_mtok must be between 0 and 1000000 with at most 6 decimals");
    }
    long micro = usdPerMtok.movePointRight(6).setScale(0, RoundingMode.UNNECESSARY).longValueExact();
    // The database keeps microseconds (PostgreSQL rounds finer times, possibly up): an entry keeps
    // exactly the time it will read back as, so the book finds it by the time it was added with.
    Instant from = effectiveFrom.truncatedTo(java.time.temporal.ChronoUnit.MICROS);
    return new Entry(0, provider.toLowerCase(Locale.ROOT), model.toLowerCase(Locale.ROOT), tokenType, micro, from, origin);
  }

  /** Adds an entry (an edit over HTTP); the book on this node sees it at once. */
  public CompletionStage<Entry> add(Entry e) {
    return sql.run(c -> {
      insert(c, e);
      return e;
    }).thenApply(e2 -> {
      reload();
      return current(e2.provider(), e2.model(), e2.tokenType(), e2.effectiveFrom());
    });
  }

  private int insert(Connection c, Entry e) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO price_book (provider, model, token_type, micro_usd_per_mtok, "
        + "effective_from, origin, created_at) VALUES (?,?,?,?,?,?,?)")) {
      Sql.bind(ps, e.provider(), e.model(), e.tokenType(), e.microUsdPerMtok(), e.effectiveFrom(), e.origin(), clock.instant());
      return ps.executeUpdate();
    }
  }

  /** Reads the whole book from the database into memory. */
  public void reload() {
    List<Entry> all = sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM price_book"); ResultSet rs = ps.executeQuery()) {
        List<Entry> out = new ArrayList<>();
        while (rs.next()) {
          out.add(new Entry(rs.getLong("id"), rs.getString("provider"), rs.getString("model"), rs.getString("token_type"),
              rs.getLong("micro_usd_per_mtok"), Sql.instant(rs, "effective_from"), rs.getString("origin")));
        }
        return out;
      }
    });
    Map<String, NavigableMap<Instant, Entry>> b = new HashMap<>();
    Map<String, List<String>> m = new HashMap<>();
    for (Entry e : all) {
      b.computeIfAbsent(key(e.provider(), e.model(), e.tokenType()), k -> new TreeMap<>()).put(e.effectiveFrom(), e);
      List<String> list = m.computeIfAbsent(e.provider(), k -> new ArrayList<>());
      if (!list.contains(e.model())) list.add(e.model());
    }
    m.values().forEach(l -> l.sort((x, y) -> Integer.compare(y.length(), x.length())));
    book = b;
    models = m;
  }

  /** Every entry, newest effective time first within each provider and model. */
  public List<Entry> entries() {
    List<Entry> out = new ArrayList<>();
    book.values().forEach(v -> out.addAll(v.values()));
    out.sort(Comparator.comparing(Entry::provider).thenComparing(Entry::model).thenComparing(Entry::tokenType)
        .thenComparing(Entry::effectiveFrom, Comparator.reverseOrder()));
    return out;
  }

  /** The entry in force for a provider, model and token type at a time, or null. */
  public Entry current(String provider, String model, String tokenType, Instant at) {
    NavigableMap<Instant, Entry> m = book.get(key(provider, model, tokenType));
    if (m == null) return null;
    Map.Entry<Instant, Entry> e = m.floorEntry(at);
    return e == null ? null : e.getValue();
  }

  /**
   * Gives a record its list cost and, if its source stated no cost, its cost (cost source
   * {@code computed}) and the price reference. A model the book does not know leaves a record
   * without a cost {@code unpriced} (cost 0), so reports can show what is missing.
   */
  public void price(UsageRecord r) {
    Listed listed = listed(r);
    r.listCostMicroUsd = listed == null ? null : listed.costMicroUsd();
    if (r.costMicroUsd == null) {
      if (listed != null) {
        r.costMicroUsd = listed.costMicroUsd();
        r.costSource = UsageRecord.CostSources.COMPUTED;
        r.priceRef = listed.ref();
      } else {
        r.costMicroUsd = 0L;
        r.costSource = UsageRecord.CostSources.UNPRICED;
      }
    } else if (r.priceRef == null && listed != null) {
      r.priceRef = listed.ref() + " (list)";
    }
  }

  /** What a record's tokens cost at the book's list price; null where the book does not know the model. */
  public Long listCost(UsageRecord r) {
    Listed listed = listed(r);
    return listed == null ? null : listed.costMicroUsd();
  }

  /** A list cost and the book entry it came from. */
  private record Listed(long costMicroUsd, String ref) {}

  private Listed listed(UsageRecord r) {
    String provider = r.provider == null ? "" : r.provider.toLowerCase(Locale.ROOT);
    String model = r.model() == null ? "" : r.model().toLowerCase(Locale.ROOT);
    Instant at = r.periodStart == null ? clock.instant() : r.periodStart;
    String[] match = match(provider, model);
    if (match == null) return null;
    Entry input = current(match[0], match[1], "input", at);
    Entry output = current(match[0], match[1], "output", at);
    if (input == null || output == null) return null;
    Entry cached = current(match[0], match[1], "cached_input", at);
    Entry write = current(match[0], match[1], "cache_write", at);
    long uncached = Math.max(0, r.inputTokens - r.cachedInputTokens - r.cacheWriteTokens);
    BigInteger microTokens = BigInteger.valueOf(uncached).multiply(BigInteger.valueOf(input.microUsdPerMtok()))
        .add(BigInteger.valueOf(r.cachedInputTokens).multiply(BigInteger.valueOf((cached == null ? input : cached).microUsdPerMtok())))
        .add(BigInteger.valueOf(r.cacheWriteTokens).multiply(BigInteger.valueOf((write == null ? input : write).microUsdPerMtok())))
        .add(BigInteger.valueOf(r.outputTokens).multiply(BigInteger.valueOf(output.microUsdPerMtok())));
    long cost = microTokens.add(MILLION.shiftRight(1)).divide(MILLION).longValueExact();
    return new Listed(cost, "price_book/" + match[0] + "/" + match[1] + "@" + input.effectiveFrom());
  }

  /**
   * The book's (provider, model) for a record's: the provider's own entry, else one for any provider;
   * the model exactly, else the longest known model that the record's model starts with followed by
   * '-' (so {@code gpt-4o-mini-2024-07-18} is priced as {@code gpt-4o-mini}).
   */
  private String[] match(String provider, String model) {
    for (String p : new String[] {provider, ANY_PROVIDER}) {
      List<String> known = models.get(p);
      if (known == null) continue;
      for (String m : known) {
        if (model.equals(m) || model.startsWith(m + "-") || model.endsWith("/" + m)) return new String[] {p, m};
      }
    }
    return null;
  }

  private static String key(String provider, String model, String tokenType) {
    return provider + '|' + model + '|' + tokenType;
  }
}
