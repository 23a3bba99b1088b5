package io.keld.atlas.spend.ledger;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How long could this work wait? Scored from signals that need no content: whether responses were
 * streamed, whether an end user or a conversation was named, whether the call ran inside an HTTP
 * server span (someone waiting on a request), embeddings, a batch or flex service tier already in
 * use, input far above output, and arrivals in periodic bursts. One record is scored at ingest from
 * its own signals; a workload (many records) is scored from the shares of its records.
 *
 * <p>Each known signal adds its weight times its strength (a share, 0..1) to the score; unknown
 * signals add nothing and lower the confidence. The score's sign and size give the class:
 * {@code batch} (≥ 0.35: could run overnight), {@code deadline} (≥ 0.1: could wait minutes to hours),
 * else {@code interactive}.
 */
public final class LatencyTolerance {

  public static final String BATCH = "batch";
  public static final String DEADLINE = "deadline";
  public static final String INTERACTIVE = "interactive";

  /** The signals; null where unknown. Shares are 0..1 (a single record: 0 or 1). */
  public record Signals(Double streamedShare, Double endUserShare, Double conversationShare, Double serverSpanShare,
      Double embeddingsShare, Double batchTierShare, Double inputOutputRatio, Double periodicity) {}

  /** One signal's part in a score: its name, the observed value, and what it added. */
  public record Evidence(String signal, String observed, double contribution) {}

  public record Score(double score, String latencyClass, double confidence, List<Evidence> evidence) {}

  // Weights: negative ones say someone is waiting, positive ones that nobody is.
  private static final double STREAMED = -0.45;
  private static final double END_USER = -0.25;
  private static final double CONVERSATION = -0.25;
  private static final double SERVER_SPAN = -0.35;
  private static final double EMBEDDINGS = 0.30;
  private static final double BATCH_TIER = 0.50;
  private static final double INPUT_HEAVY = 0.20;
  private static final double PERIODIC = 0.30;
  /** Not streamed, no end user, no conversation, no server span: each absence is mild evidence of tolerance. */
  private static final double ABSENCE = 0.06;

  private LatencyTolerance() {}

  public static Score score(Signals s) {
    List<Evidence> evidence = new ArrayList<>();
    double score = 0;
    int known = 0;
    int total = 8;
    if (s.streamedShare() != null) {
      known++;
      score += add(evidence, "streamed", share(s.streamedShare()), STREAMED * s.streamedShare() + ABSENCE * (1 - s.streamedShare()));
    }
    if (s.endUserShare() != null) {
      known++;
      score += add(evidence, "end_user_id", share(s.endUserShare()), END_USER * s.endUserShare() + ABSENCE * (1 - s.endUserShare()));
    }
    if (s.conversationShare() != null) {
      known++;
      score += add(evidence, "conversation_id", share(s.conversationShare()),
          CONVERSATION * s.conversationShare() + ABSENCE * (1 - s.conversationShare()));
    }
    if (s.serverSpanShare() != null) {
      known++;
      score += add(evidence, "under_http_server_span", share(s.serverSpanShare()),
          SERVER_SPAN * s.serverSpanShare() + ABSENCE * (1 - s.serverSpanShare()));
    }
    if (s.embeddingsShare() != null) {
      known++;
      if (s.embeddingsShare() > 0) score += add(evidence, "embeddings", share(s.embeddingsShare()), EMBEDDINGS * s.embeddingsShare());
    }
    if (s.batchTierShare() != null) {
      known++;
      if (s.batchTierShare() > 0) {
        score += add(evidence, "batch_or_flex_tier", share(s.batchTierShare()), BATCH_TIER * s.batchTierShare());
      }
    }
    if (s.inputOutputRatio() != null) {
      known++;
      double r = s.inputOutputRatio();
      // 10:1 and above is summarising, extracting, classifying: reading a lot, writing little.
      double strength = Math.max(0, Math.min(1, (Math.log10(Math.max(r, 1e-9)) - 0.5) / 1.0));
      if (strength > 0) {
        score += add(evidence, "input_output_ratio", String.format(Locale.ROOT, "%.1f:1", r), INPUT_HEAVY * strength);
      }
    }
    if (s.periodicity() != null) {
      known++;
      if (s.periodicity() > 0) {
        score += add(evidence, "periodic_bursts", String.format(Locale.ROOT, "%.2f", s.periodicity()), PERIODIC * s.periodicity());
      }
    }
    String latencyClass = score >= 0.35 ? BATCH : score >= 0.1 ? DEADLINE : INTERACTIVE;
    // Confidence: how much of the picture is known, times how far the score sits from the nearest
    // class boundary (a score on a boundary is a coin toss between two classes).
    double coverage = (double) known / total;
    double distance = Math.min(Math.abs(score - 0.35), Math.abs(score - 0.1));
    double confidence = Math.round(coverage * (0.5 + 0.5 * Math.min(1, distance / 0.3)) * 100) / 100.0;
    return new Score(Math.round(score * 1000) / 1000.0, latencyClass, confidence, List.copyOf(evidence));
  }

  /** Scores one record from its own signals and writes the class and confidence on it. */
  public static void classify(UsageRecord r) {
    Score s = score(new Signals(bit(r.streaming), bit(r.hasEndUser), bit(r.hasConversation), bit(r.underServerSpan),
        r.operation == null ? null : isEmbeddings(r.operation) ? 1.0 : 0.0,
        r.serviceTier == null ? 0.0 : isBatchTier(r.serviceTier) ? 1.0 : 0.0,
        inputOutputRatio(r), null));
    r.latencyClass = s.latencyClass();
    r.latencyConfidence = s.confidence();
  }

  /** Null when the record has no tokens (a bill line): boxed throughout, as a ternary mixing double and null unboxes the null. */
  private static Double inputOutputRatio(UsageRecord r) {
    if (r.outputTokens > 0) return (double) r.inputTokens / r.outputTokens;
    if (r.inputTokens > 0) return 1000.0;
    return null;
  }

  public static boolean isEmbeddings(String operation) {
    String o = operation.toLowerCase(Locale.ROOT);
    return o.equals("embeddings") || o.equals("embedding") || o.equals("embed");
  }

  /** Service tiers that already say "not now": OpenAI's flex and batch, Anthropic's batch. */
  public static boolean isBatchTier(String tier) {
    String t = tier.toLowerCase(Locale.ROOT);
    return t.equals("flex") || t.equals("batch") || t.contains("batch");
  }

  private static Double bit(Boolean b) {
    return b == null ? null : b ? 1.0 : 0.0;
  }

  private static String share(double v) {
    return Math.round(v * 100) + "%";
  }

  private static double add(List<Evidence> evidence, String signal, String observed, double contribution) {
    evidence.add(new Evidence(signal, observed, Math.round(contribution * 1000) / 1000.0));
    return contribution;
  }
}
