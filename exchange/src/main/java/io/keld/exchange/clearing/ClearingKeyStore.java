package io.keld.exchange.clearing;

import java.sql.Connection;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.clearing.Pseudonyms;
import io.keld.marketplace.clearing.ReceiptKeys;
import io.keld.marketplace.clearing.ReceiptSigner;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster's clearing keys in the database ({@code clearing_keys}, migration V10): the Ed25519 key
 * pairs that sign fill receipts and the secret behind the book log's pseudonyms. Created on first
 * start; {@link #rotate} adds a new receipt key, which signs from the next start of each node on,
 * while the old ones stay published so their receipts still verify.
 */
public final class ClearingKeyStore {

  static final String PSEUDONYM_KEY_ID = "pseudonyms";
  private static final DateTimeFormatter KEY_DATE = DateTimeFormatter.ofPattern("yyyyMMdd").withZone(ZoneOffset.UTC);

  /** A published receipt key. */
  public record PublishedKey(String keyId, String algorithm, String publicKey, Instant createdAt, Instant retiredAt) {}

  /** What a node signs and pseudonymises with, and what it publishes. */
  public record ClearingKeys(ReceiptSigner signer, Pseudonyms pseudonyms, List<PublishedKey> published) {

    public ReceiptKeys receiptKeys() {
      Map<String, PublicKey> byId = new LinkedHashMap<>();
      for (PublishedKey k : published) byId.put(k.keyId(), ReceiptSigner.decodePublic(k.publicKey()));
      return new ReceiptKeys(byId);
    }
  }

  private final Sql sql;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public ClearingKeyStore(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  /** The keys, creating the pseudonym secret and a first receipt key when there are none (start-up, on the calling thread). */
  public ClearingKeys loadOrCreate() {
    return sql.now(c -> {
      if (secret(c, PSEUDONYM_KEY_ID) == null) {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        insertIgnoringRace(c, PSEUDONYM_KEY_ID, "pseudonym", null, Base64.getEncoder().encodeToString(secret));
      }
      if (receiptKeys(c).stream().noneMatch(k -> k.retiredAt() == null)) addReceiptKey(c);
      return load(c);
    });
  }

  /** Adds a new receipt key; nodes sign with it from their next start. Returns its id. */
  public String rotate() {
    return sql.now(this::addReceiptKey);
  }

  private String addReceiptKey(Connection c) throws SQLException {
    KeyPair pair = ReceiptSigner.generateKeyPair();
    byte[] suffix = new byte[4];
    random.nextBytes(suffix);
    String keyId = "rk_" + KEY_DATE.format(clock.instant()) + "_" + HexFormat.of().formatHex(suffix);
    insertIgnoringRace(c, keyId, "receipt", ReceiptSigner.encodePublic(pair.getPublic()), ReceiptSigner.encodePrivate(pair.getPrivate()));
    return keyId;
  }

  private ClearingKeys load(Connection c) throws SQLException {
    Pseudonyms pseudonyms = new Pseudonyms(Base64.getDecoder().decode(secret(c, PSEUDONYM_KEY_ID)));
    List<PublishedKey> published = receiptKeys(c);
    // The newest unretired key signs; two nodes that raced at first start agree on it.
    PublishedKey current = null;
    for (PublishedKey k : published) {
      if (k.retiredAt() != null) continue;
      if (current == null || k.createdAt().isAfter(current.createdAt())
          || (k.createdAt().equals(current.createdAt()) && k.keyId().compareTo(current.keyId()) > 0)) {
        current = k;
      }
    }
    String privateKey = secret(c, current.keyId());
    ReceiptSigner signer = new ReceiptSigner(current.keyId(), ReceiptSigner.decodePrivate(privateKey), ReceiptSigner.decodePublic(current.publicKey()));
    return new ClearingKeys(signer, pseudonyms, published);
  }

  private static List<PublishedKey> receiptKeys(Connection c) throws SQLException {
    List<PublishedKey> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT key_id, public_key, created_at, retired_at FROM clearing_keys WHERE purpose = 'receipt' ORDER BY created_at, key_id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(new PublishedKey(rs.getString("key_id"), ReceiptSigner.ALGORITHM, rs.getString("public_key"), Sql.instant(rs, "created_at"),
            Sql.instant(rs, "retired_at")));
      }
    }
    return out;
  }

  private static String secret(Connection c, String keyId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT secret FROM clearing_keys WHERE key_id = ?")) {
      ps.setString(1, keyId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private void insertIgnoringRace(Connection c, String keyId, String purpose, String publicKey, String secret) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO clearing_keys (key_id, purpose, public_key, secret, created_at) VALUES (?, ?, ?, ?, ?)")) {
      Sql.bind(ps, keyId, purpose, publicKey, secret, clock.instant());
      ps.executeUpdate();
    } catch (SQLException e) {
      // Another node created it first: theirs stands.
      if (!Sql.isUniqueViolation(e)) throw e;
    }
  }
}
