package io.keld.marketplace.clearing;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Stable per-book pseudonyms for the identities in a book's public log: a provider, an ask, a bid.
 * A pseudonym is an HMAC-SHA256 of the book, the kind and the id under the cluster's secret, so the
 * same id reads the same everywhere in one book's log (a replay still sees which events concern the
 * same ask), differs between books (nobody links a provider across books), and cannot be turned back
 * into the id without the secret.
 */
public final class Pseudonyms {

  /** 80 bits of the MAC: collisions among the ids of one book are out of reach. */
  private static final int BYTES = 10;

  private final SecretKeySpec key;
  private final ThreadLocal<Mac> macs;

  public Pseudonyms(byte[] secret) {
    if (secret == null || secret.length < 16) throw new IllegalArgumentException("the pseudonym secret must be at least 16 bytes");
    this.key = new SecretKeySpec(secret.clone(), "HmacSHA256");
    this.macs = ThreadLocal.withInitial(() -> {
      try {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(key);
        return mac;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("HmacSHA256 is not available", e);
      }
    });
  }

  public String provider(String book, String providerId) {
    return of(book, "prv", providerId);
  }

  public String ask(String book, String askId) {
    return of(book, "ask", askId);
  }

  public String bid(String book, String bidId) {
    return of(book, "bid", bidId);
  }

  private String of(String book, String kind, String id) {
    if (id == null) return null;
    Mac mac = macs.get();
    byte[] digest = mac.doFinal((kind + '\n' + book + '\n' + id).getBytes(StandardCharsets.UTF_8));
    return "anon_" + kind + "_" + HexFormat.of().formatHex(digest, 0, BYTES);
  }
}
