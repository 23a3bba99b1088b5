package io.keld.kit.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;

/**
 * AES-256-GCM for provider credentials: a fresh 96-bit nonce per encryption, a 128-bit tag, and the
 * owning row's id as associated data, so a ciphertext copied onto another row does not decrypt.
 * Stored as {@code v1.} + base64url(nonce || ciphertext || tag).
 */
public final class CredentialCipher {

  private static final String PREFIX = "v1.";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final String CHECK_PLAINTEXT = "keld-master-key-check";
  private static final String CHECK_CONTEXT = "trade_master_key_check";

  private final MasterKey key;
  private final SecureRandom random = new SecureRandom();

  public CredentialCipher(MasterKey key) {
    this.key = key;
  }

  public String encrypt(String plaintext, String context) {
    try {
      byte[] nonce = new byte[NONCE_BYTES];
      random.nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key.secretKey(), new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(context.getBytes(StandardCharsets.UTF_8));
      byte[] sealed = c.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
      byte[] out = new byte[NONCE_BYTES + sealed.length];
      System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
      System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
      return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(out);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is not available: " + e.getMessage(), e);
    }
  }

  /** @throws MasterKey.InvalidMasterKeyException when the value was not sealed under this key for this context */
  public String decrypt(String stored, String context) {
    if (stored == null || !stored.startsWith(PREFIX)) throw new MasterKey.InvalidMasterKeyException("not a v1 credential ciphertext");
    try {
      byte[] in = Base64.getUrlDecoder().decode(stored.substring(PREFIX.length()));
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key.secretKey(), new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
      c.updateAAD(context.getBytes(StandardCharsets.UTF_8));
      return new String(c.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES), StandardCharsets.UTF_8);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new MasterKey.InvalidMasterKeyException("a stored credential does not decrypt under the master key from " + key.source());
    }
  }

  /** A value to store once, and to {@link #verifyCheck check} at every start. */
  public String newCheck() {
    return encrypt(CHECK_PLAINTEXT, CHECK_CONTEXT);
  }

  /** @throws MasterKey.InvalidMasterKeyException with an operator's explanation when the key is not the one in use */
  public void verifyCheck(String storedCheck) {
    try {
      if (CHECK_PLAINTEXT.equals(decrypt(storedCheck, CHECK_CONTEXT))) return;
    } catch (MasterKey.InvalidMasterKeyException wrongKey) {
      // explained below
    }
    throw new MasterKey.InvalidMasterKeyException("the master key from " + key.source() + " is not the key this database's "
        + "provider credentials were encrypted with; start the node with the original key (" + MasterKey.ENV
        + " or the key file of the node that first started on this database)");
  }
}
