package io.keld.ixp;

import java.security.SecureRandom;

/**
 * Opaque ids with a type prefix ({@code org_…}, {@code team_…}, {@code prj_…}, {@code key_…}):
 * the prefix tells a reader what an id names, the 16 random base32 characters (80 bits) make it
 * unguessable, so an id alone never reveals whether another tenant's resource exists.
 */
public final class Ids {

  private static final char[] ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private Ids() {}

  public static String next(String prefix) {
    return prefix + "_" + random(16);
  }

  /**
   * {@code n} random characters of a lowercase base32 alphabet (no i, l, o, u): five random bits
   * each, drawn in one call to the secure generator (a call per character cost microseconds per id
   * on the edge's real-time path).
   */
  public static String random(int n) {
    byte[] bits = new byte[(n * 5 + 7) / 8];
    RANDOM.nextBytes(bits);
    char[] out = new char[n];
    for (int i = 0; i < n; i++) {
      int bit = i * 5;
      int word = (bits[bit / 8] & 0xff) << 8 | (bit / 8 + 1 < bits.length ? bits[bit / 8 + 1] & 0xff : 0);
      out[i] = ALPHABET[(word >>> (11 - bit % 8)) & 31];
    }
    return new String(out);
  }
}
