package io.keld.marketplace.clearing;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.Map;

/** The cluster's published receipt keys by key id (current and retired ones: rotation keeps old receipts checkable). */
public record ReceiptKeys(Map<String, PublicKey> byId) {

  public ReceiptKeys {
    byId = Map.copyOf(byId);
  }

  /** Null when the receipt's signature holds under the key it names; otherwise why not. */
  public String check(FillReceipt receipt) {
    if (receipt.keyId() == null || receipt.signature() == null) return "the receipt is not signed";
    PublicKey key = byId.get(receipt.keyId());
    if (key == null) return "key " + receipt.keyId() + " is not among the published keys " + byId.keySet();
    try {
      Signature s = Signature.getInstance(ReceiptSigner.ALGORITHM);
      s.initVerify(key);
      s.update(receipt.signedContent());
      return s.verify(Base64.getDecoder().decode(receipt.signature())) ? null : "the signature does not verify under key " + receipt.keyId();
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return "the signature does not verify under key " + receipt.keyId() + " (" + e.getMessage() + ")";
    }
  }
}
