package io.keld.atlas.spend.ledger;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Makes a record fit the ledger's columns, whatever its source sent: text clipped to its column's
 * width and stripped of control characters (PostgreSQL refuses NUL), tags dropped until their JSON
 * fits, an over-long event id replaced by its SHA-256 (still stable, so idempotency holds). One
 * odd value must not fail the whole batch it came in.
 */
public final class Columns {

  /** The most tokens one record may count; sources refuse more (no real usage is near it). */
  public static final long MAX_TOKENS = 10_000_000_000_000L;
  private static final int TAGS_WIDTH = 4000;

  private Columns() {}

  public static void fit(UsageRecord r) {
    if (r.sourceEventId != null && r.sourceEventId.length() > 200) r.sourceEventId = "sha256:" + sha256(r.sourceEventId);
    r.teamId = text(r.teamId, 64);
    r.projectId = text(r.projectId, 64);
    r.granularity = text(r.granularity, 16);
    r.provider = text(r.provider, 64);
    r.modelRequested = text(r.modelRequested, 200);
    r.modelServed = text(r.modelServed, 200);
    r.operation = text(r.operation, 64);
    r.serviceTier = text(r.serviceTier, 32);
    r.useCase = text(r.useCase, 64);
    r.priceRef = text(r.priceRef, 300);
    r.jobCategory = text(r.jobCategory, 64);
    r.jobCategorySource = text(r.jobCategorySource, 16);
    r.status = text(r.status, 16);
    r.traceId = text(r.traceId, 32);
    r.spanId = text(r.spanId, 16);
    r.serviceName = text(r.serviceName, 200);
    r.resourceId = text(r.resourceId, 32);
    if (r.tags != null && !r.tags.isEmpty()) {
      Map<String, String> tags = new TreeMap<>();
      r.tags.forEach((k, v) -> tags.put(text(k, 64), text(v, 200)));
      while (!tags.isEmpty() && Ledger.tagsJson(tags).length() > TAGS_WIDTH) tags.remove(((TreeMap<String, String>) tags).lastKey());
      r.tags = tags;
    }
  }

  static String text(String s, int width) {
    if (s == null) return null;
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        if (b == null) b = new StringBuilder(s.substring(0, i));
      } else if (b != null) {
        b.append(c);
      }
    }
    String clean = b == null ? s : b.toString();
    return clean.length() > width ? clean.substring(0, width) : clean;
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
