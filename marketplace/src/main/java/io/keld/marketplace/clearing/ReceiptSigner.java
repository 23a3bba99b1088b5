package io.keld.marketplace.clearing;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * Signs fill receipts with the cluster's current Ed25519 key (the JDK's own {@code Ed25519}).
 * Ed25519 signatures are deterministic, so the receipt of a fill is the same whichever node signs it
 * with the same key. Thread-safe: a {@link Signature} per call.
 */
public final class ReceiptSigner {

  public static final String ALGORITHM = "Ed25519";

  private final String keyId;
  private final PrivateKey privateKey;
  private final PublicKey publicKey;

  public ReceiptSigner(String keyId, PrivateKey privateKey, PublicKey publicKey) {
    this.keyId = keyId;
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  public String keyId() {
    return keyId;
  }

  public PublicKey publicKey() {
    return publicKey;
  }

  public FillReceipt sign(FillReceipt unsigned) {
    FillReceipt named = unsigned.signedWith(keyId, null);
    try {
      Signature s = Signature.getInstance(ALGORITHM);
      s.initSign(privateKey);
      s.update(named.signedContent());
      return named.signedWith(keyId, Base64.getEncoder().encodeToString(s.sign()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("signing a receipt failed", e);
    }
  }

  public static KeyPair generateKeyPair() {
    try {
      return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Ed25519 is not available in this JDK", e);
    }
  }

  /** A public key as published: its X.509 SubjectPublicKeyInfo, base64. */
  public static String encodePublic(PublicKey key) {
    return Base64.getEncoder().encodeToString(key.getEncoded());
  }

  public static String encodePrivate(PrivateKey key) {
    return Base64.getEncoder().encodeToString(key.getEncoded());
  }

  public static PublicKey decodePublic(String base64) {
    try {
      return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException("not an Ed25519 public key (X.509, base64): " + e.getMessage(), e);
    }
  }

  public static PrivateKey decodePrivate(String base64) {
    try {
      return KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(base64)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException("not an Ed25519 private key (PKCS#8, base64): " + e.getMessage(), e);
    }
  }
}
