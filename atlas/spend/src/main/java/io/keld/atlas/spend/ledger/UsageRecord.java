package io.keld.atlas.spend.ledger;

import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * One usage record of the spend ledger, as it is assembled: a source fills what it knows, then
 * mapping (team, project, category), pricing (cost where the source has none) and classification
 * (latency tolerance) fill the rest, and the {@link Ledger} writes it. A record is used by one thread
 * at a time.
 *
 * <p>The fields are the ledger's allow-list (the columns of {@code usage_records}); there is no field
 * for prompt or completion content. Tokens follow OpenAI's convention: {@link #inputTokens} counts
 * every input token; {@link #cachedInputTokens} and {@link #cacheWriteTokens} are parts of it.
 */
public final class UsageRecord {

  /** Where a record came from; with {@link #sourceEventId} it makes an ingest idempotent. */
  public static final class Sources {
    public static final String KELD = "keld";
    public static final String OTLP = "otlp";
    /** OTLP GenAI metrics, net of the spans of the same resource (one record per call group and collection interval). */
    public static final String OTLP_METRICS = "otlp_metrics";
    public static final String OPENAI_USAGE = "openai_usage";
    public static final String ANTHROPIC_USAGE = "anthropic_usage";
    public static final String LITELLM = "litellm";
    public static final String ATLAS_FILE = "atlas_file";

    private Sources() {}
  }

  /** Who stated the cost: the provider's bill, a gateway's estimate, Atlas's price book, or nobody. */
  public static final class CostSources {
    public static final String PROVIDER = "provider";
    public static final String GATEWAY = "gateway";
    public static final String COMPUTED = "computed";
    public static final String UNPRICED = "unpriced";

    private CostSources() {}
  }

  public String orgId;
  public String source;
  public String sourceEventId;
  public String teamId;
  public String projectId;
  public Instant periodStart;
  public Instant periodEnd;
  /** {@code event} for one request; {@code minute}, {@code hour} or {@code day} for a bucket of them. */
  public String granularity = "event";
  public long requestCount = 1;
  public String provider;
  public String modelRequested;
  public String modelServed;
  public String operation;
  public String serviceTier;
  /** The Keld use case, where known (a Keld job's), used to quote the marketplace. */
  public String useCase;
  public long inputTokens;
  public long cachedInputTokens;
  public long cacheWriteTokens;
  public long outputTokens;
  public long reasoningTokens;
  /** Null until priced: what was (or would be) paid. */
  public Long costMicroUsd;
  /** What the same usage costs at the price book's list price, where the book knows the model. */
  public Long listCostMicroUsd;
  public String currency = "USD";
  public String costSource;
  public String priceRef;
  public String jobCategory;
  /** {@code declared} by the source or a rule, or {@code inferred} from the operation. */
  public String jobCategorySource;
  /** {@code capex} or {@code opex}. */
  public String spendClass;
  /** {@code batch}, {@code deadline} or {@code interactive}; see {@link LatencyTolerance}. */
  public String latencyClass;
  public Double latencyConfidence;
  public Long durationMs;
  public Long ttftMs;
  public Boolean streaming;
  public Boolean hasEndUser;
  public Boolean hasConversation;
  public Boolean underServerSpan;
  /** {@code ok} or {@code error}. */
  public String status = "ok";
  public String traceId;
  public String spanId;
  public String serviceName;
  /** The OpenTelemetry resource a span or metric came from (a hash of its attributes); null for other sources. */
  public String resourceId;
  public Map<String, String> tags = new TreeMap<>();

  /** The model the rollups and reports use: the one that served, else the one asked for. */
  public String model() {
    return modelServed != null && !modelServed.isBlank() ? modelServed : modelRequested;
  }
}
