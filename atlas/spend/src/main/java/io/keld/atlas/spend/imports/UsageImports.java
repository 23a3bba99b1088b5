package io.keld.atlas.spend.imports;

import io.keld.atlas.spend.SpendIngest;
import io.keld.ixp.Texts;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Usage files from other systems, read into records for {@link SpendIngest}: a provider's usage
 * export, a gateway's spend logs, or Atlas's own CSV/JSONL. Reading fills what the file states
 * (periods, provider, model, tokens, requests, cost where stated) and the attributes mapping rules
 * match on; it does not place (team, project), price or classify a record, unless the file itself
 * states team or project (Atlas files): {@link SpendIngest} does the rest for every source alike.
 *
 * <p>Formats (each class documents its own mapping):
 * <ul>
 *   <li>{@code openai_usage}: OpenAI Usage API pages, completions and embeddings
 *       ({@link OpenAiUsageFormat}).</li>
 *   <li>{@code anthropic_usage}: Anthropic Admin API usage report, messages
 *       ({@link AnthropicUsageFormat}).</li>
 *   <li>{@code litellm_spend_logs}: LiteLLM proxy spend logs, JSON array or ndjson; content fields
 *       are never read ({@link LiteLlmSpendLogFormat}).</li>
 *   <li>{@code atlas_csv}, {@code atlas_jsonl}: the ledger's fields in snake_case
 *       ({@link AtlasFileFormat}).</li>
 * </ul>
 *
 * <p>Errors: a row that cannot be imported is a {@link LineError} and the other rows still come
 * through. A file that cannot be read at all (not JSON, not the format's shape, an unknown CSV
 * column, more than {@value #MAX_ROWS} rows) is an {@link IllegalArgumentException} whose message can
 * be shown to the user as it is. Error messages quote the file only in short excerpts, and only of
 * fields the format reads.
 *
 * <p>Idempotency: every record's source event id is derived from the row alone (its grouping
 * fields, or the id the source gave it), so importing the same file twice, or two overlapping
 * exports, counts each row once in the ledger.
 */
public final class UsageImports {

  /** What a file held: the records to ingest, and the rows that could not be imported. */
  public record Parsed(List<SpendIngest.Incoming> records, List<LineError> errors) {}

  /**
   * A row that was not imported and why. {@code line}: the 1-based line for CSV and JSONL (the line
   * a CSV record starts on), or the 1-based index of the result or row in a JSON document.
   */
  public record LineError(int line, String reason) {}

  public static final List<String> FORMATS = List.of(OpenAiUsageFormat.NAME, AnthropicUsageFormat.NAME, LiteLlmSpendLogFormat.NAME,
      AtlasFileFormat.CSV, AtlasFileFormat.JSONL);

  /** Rows per file; a larger export is split (the provider APIs page anyway). */
  public static final int MAX_ROWS = 1_000_000;

  private UsageImports() {}

  /**
   * Reads a usage file.
   *
   * @param format one of {@link #FORMATS}
   * @param body the file as uploaded (UTF-8)
   * @param orgId the organization the usage belongs to (the ingest key's)
   * @throws IllegalArgumentException for an unknown format or a file that cannot be read at all
   */
  public static Parsed parse(String format, byte[] body, String orgId) {
    return parse(format, body, orgId, MAX_ROWS);
  }

  /** {@link #parse(String, byte[], String)} with another row limit (tests). */
  static Parsed parse(String format, byte[] body, String orgId, int maxRows) {
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(orgId, "orgId");
    Rows.Sink sink = new Rows.Sink(maxRows);
    String f = format == null ? "" : format.strip().toLowerCase(Locale.ROOT);
    switch (f) {
      case OpenAiUsageFormat.NAME:
        OpenAiUsageFormat.parse(body, orgId, sink);
        break;
      case AnthropicUsageFormat.NAME:
        AnthropicUsageFormat.parse(body, orgId, sink);
        break;
      case LiteLlmSpendLogFormat.NAME:
        LiteLlmSpendLogFormat.parse(body, orgId, sink);
        break;
      case AtlasFileFormat.CSV:
        AtlasFileFormat.parseCsv(body, orgId, sink);
        break;
      case AtlasFileFormat.JSONL:
        AtlasFileFormat.parseJsonl(body, orgId, sink);
        break;
      default:
        throw new IllegalArgumentException("unknown import format '" + Texts.clip(format) + "'; the formats are " + String.join(", ", FORMATS));
    }
    return sink.parsed();
  }
}
