package io.keld.sim.market;

import java.io.IOException;
import java.io.Reader;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;

/**
 * The list prices of {@code config/price-book.csv} for the models the simulation knows a quality
 * score for. The book's latest entry of each model and token type counts.
 */
public final class PriceBookModels {

  /**
   * Quality scores on Keld's 0..100 scale for the price book's chat models. They are assumptions
   * of this simulation (no public benchmark maps onto one scale), ordered as the providers rank their
   * own models; the report prints them.
   */
  public static final Map<String, Integer> QUALITY = Map.ofEntries(
      Map.entry("gpt-5", 90), Map.entry("gpt-5-mini", 84), Map.entry("gpt-5-nano", 72),
      Map.entry("gpt-4.1", 84), Map.entry("gpt-4.1-mini", 78), Map.entry("gpt-4.1-nano", 68),
      Map.entry("gpt-4o", 82), Map.entry("gpt-4o-mini", 72), Map.entry("o3", 90), Map.entry("o4-mini", 84),
      Map.entry("claude-opus-4", 92), Map.entry("claude-sonnet-4", 88), Map.entry("claude-sonnet-4-5", 90),
      Map.entry("claude-haiku-4-5", 82), Map.entry("claude-3-5-haiku", 74));

  private PriceBookModels() {}

  /** The known models of the price book, in the order the book first names them. */
  public static List<ListedModel> read(Reader csv) throws IOException {
    Map<String, long[]> prices = new LinkedHashMap<>(); // provider/model -> input, output
    Map<String, Instant[]> effective = new LinkedHashMap<>();
    CSVFormat format = CSVFormat.DEFAULT.builder().setCommentMarker('#').setHeader().setSkipHeaderRecord(true).setTrim(true).get();
    for (CSVRecord r : format.parse(csv)) {
      String type = r.get("token_type");
      int slot = type.equals("input") ? 0 : type.equals("output") ? 1 : -1;
      if (slot < 0 || !QUALITY.containsKey(r.get("model"))) continue;
      String key = r.get("provider") + "/" + r.get("model");
      Instant from = Instant.parse(r.get("effective_from"));
      Instant[] seen = effective.computeIfAbsent(key, k -> new Instant[2]);
      if (seen[slot] != null && seen[slot].isAfter(from)) continue;
      seen[slot] = from;
      prices.computeIfAbsent(key, k -> new long[] {-1, -1})[slot] =
          new BigDecimal(r.get("usd_per_mtok")).movePointRight(6).longValueExact();
    }
    List<ListedModel> out = new ArrayList<>();
    prices.forEach((key, p) -> {
      if (p[0] < 0 || p[1] < 0) return;
      String[] pm = key.split("/", 2);
      out.add(new ListedModel(pm[0], pm[1], p[0], p[1], QUALITY.get(pm[1])));
    });
    return out;
  }
}
