package io.keld.atlas.keys;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The shape of a Keld API key: {@code keld_<16 id chars>_<43 secret chars>}.
 *
 * <ul>
 *   <li>The {@code keld_} prefix lets secret scanners (GitHub, gitleaks, trufflehog) recognise a
 *       leaked key;</li>
 *   <li>the id part names the key's row ({@code key_<id chars>}), so checking a key is one lookup by
 *       primary key, never a scan over hashes;</li>
 *   <li>the secret is 256 random bits. Only SHA-256 of the whole key is stored: with that much
 *       entropy a fast hash is enough (a slow password hash protects guessable secrets, which these
 *       are not), and it keeps authentication cheap on every request.</li>
 * </ul>
 */
public final class KeyFormat {

  public static final String PREFIX = "keld_";
  static final int ID_CHARS = 16;
  private static final SecureRandom RANDOM = new SecureRandom();

  private KeyFormat() {}

  /** A new key for the key id {@code key_<idChars>}. */
  static String newKey(String keyId) {
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    return PREFIX + idChars(keyId) + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
  }

  static String idChars(String keyId) {
    return keyId.substring("key_".length());
  }

  /** The key id a presented key claims, or empty when it is not shaped like a Keld key. */
  public static Optional<String> keyIdOf(String presented) {
    if (presented == null || !presented.startsWith(PREFIX)) return Optional.empty();
    int idEnd = PREFIX.length() + ID_CHARS;
    if (presented.length() != idEnd + 1 + 43 || presented.charAt(idEnd) != '_') return Optional.empty();
    String id = presented.substring(PREFIX.length(), idEnd);
    for (char c : id.toCharArray()) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return Optional.empty();
    }
    return Optional.of("key_" + id);
  }

  static String sha256Hex(String key) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Compares in time independent of where the two differ. */
  static boolean sameHash(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.US_ASCII), b.getBytes(StandardCharsets.US_ASCII));
  }

  static String hint(String key) {
    return key.substring(key.length() - 4);
  }
}
