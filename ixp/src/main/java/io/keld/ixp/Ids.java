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

  /** {@code n} random characters of a lowercase base32 alphabet (no i, l, o, u). */
  public static String random(int n) {
    char[] out = new char[n];
    for (int i = 0; i < n; i++) out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    return new String(out);
  }
}
