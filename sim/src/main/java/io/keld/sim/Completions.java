package io.keld.sim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * Deterministic model output: the same request always gets the same answer and the same token
 * counts, so tests can check results without a model. Token counts are honest about what is sent
 * back: one output token per word of the completion; input tokens are estimated as one per four
 * characters of prompt (the usual rule of thumb), at least one.
 */
public final class Completions {

  private static final String[] WORDS = {
    "keld", "clears", "each", "job", "at", "the", "best", "feasible", "ask", "inside", "its", "deadline",
    "tokens", "flow", "through", "paced", "batches", "providers", "compete", "on", "price", "and", "fit"
  };

  private Completions() {}

  public static long inputTokens(String prompt) {
    return Math.max(1, (prompt.length() + 3) / 4);
  }

  /** Output length: {@code maxTokens} when given (capped at 4096), else 8 to 63 from the prompt's hash. */
  public static long outputTokens(String prompt, Integer maxTokens) {
    if (maxTokens != null && maxTokens > 0) return Math.min(maxTokens, 4096);
    return 8 + Math.floorMod(hash(prompt), 56);
  }

  /** The completion: {@code n} words chosen from the prompt's hash. */
  public static List<String> words(String prompt, long n) {
    List<String> out = new ArrayList<>((int) n);
    long h = hash(prompt);
    for (int i = 0; i < n; i++) {
      h = h * 6364136223846793005L + 1442695040888963407L;
      out.add(WORDS[(int) Math.floorMod(h >>> 33, WORDS.length)]);
    }
    return out;
  }

  /** A unit-length embedding of {@code dims} dimensions derived from the text. */
  public static double[] embedding(String text, int dims) {
    double[] v = new double[dims];
    long h = hash(text);
    double norm = 0;
    for (int i = 0; i < dims; i++) {
      h = h * 6364136223846793005L + 1442695040888963407L;
      v[i] = ((h >>> 11) / (double) (1L << 53)) * 2 - 1;
      norm += v[i] * v[i];
    }
    norm = Math.sqrt(norm);
    for (int i = 0; i < dims; i++) v[i] /= norm;
    return v;
  }

  static long hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      long h = 0;
      for (int i = 0; i < 8; i++) h = (h << 8) | (d[i] & 0xff);
      return h;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
