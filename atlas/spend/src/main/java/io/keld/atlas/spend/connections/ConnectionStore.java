package io.keld.atlas.spend.connections;

import io.keld.kit.crypto.CredentialCipher;
import io.keld.kit.sql.Sql;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The {@code usage_connections} table. The credential goes in sealed (AES-256-GCM under the node's
 * master key, the row's id as associated data) and comes out only through {@link #credential}, for
 * the pull; no view of a connection holds it.
 */
public final class ConnectionStore {

  /** A connection as the API shows it: everything but the credential. */
  public record ProviderConnection(String id, String orgId, String provider, String name, Instant watermark, Instant createdAt,
      Instant lastAttemptAt, Instant lastSuccessAt, String lastError, Instant lastErrorAt) {}

  private static final String COLUMNS = "id, org_id, provider, name, watermark, created_at, last_attempt_at, last_success_at, last_error, "
      + "last_error_at";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Sql sql;
  private final CredentialCipher cipher;

  public ConnectionStore(Sql sql, CredentialCipher cipher) {
    this.sql = sql;
    this.cipher = cipher;
  }

  static String newId() {
    byte[] b = new byte[10];
    RANDOM.nextBytes(b);
    return "conn_" + HexFormat.of().formatHex(b);
  }

  public CompletionStage<ProviderConnection> create(String orgId, String provider, String name, String credential, Instant watermark,
      Instant now) {
    String id = newId();
    String sealed = cipher.encrypt(credential, context(id));
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO usage_connections (id, org_id, provider, name, credential_sealed, "
          + "watermark, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
        Sql.bind(ps, id, orgId, provider, name, sealed, watermark, now);
        ps.executeUpdate();
      }
      return new ProviderConnection(id, orgId, provider, name, watermark, now, null, null, null, null);
    });
  }

  public CompletionStage<List<ProviderConnection>> list(String orgId) {
    return sql.run(c -> query(c, "SELECT " + COLUMNS + " FROM usage_connections WHERE org_id = ? ORDER BY created_at, id", orgId));
  }

  public CompletionStage<Optional<ProviderConnection>> get(String orgId, String id) {
    return sql.run(c -> query(c, "SELECT " + COLUMNS + " FROM usage_connections WHERE org_id = ? AND id = ?", orgId, id)
        .stream().findFirst());
  }

  /** Deletes a connection (its sealed credential with it); the usage it pulled stays in the ledger. */
  public CompletionStage<Boolean> delete(String orgId, String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM usage_connections WHERE org_id = ? AND id = ?")) {
        Sql.bind(ps, orgId, id);
        return ps.executeUpdate() == 1;
      }
    });
  }

  /** Connections no node holds whose last attempt is older than {@code attemptedBefore} (or that were never tried). */
  List<ProviderConnection> due(Instant attemptedBefore, Instant now) {
    return sql.now(c -> query(c, "SELECT " + COLUMNS + " FROM usage_connections WHERE "
        + "(last_attempt_at IS NULL OR last_attempt_at < ?) AND (lease_until IS NULL OR lease_until < ?) ORDER BY last_attempt_at, id",
        attemptedBefore, now));
  }

  /** Takes the connection for {@code owner} until {@code until} if no one holds it; true when taken. */
  boolean lease(String id, String owner, Instant now, Instant until) {
    return sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE usage_connections SET lease_owner = ?, lease_until = ?, last_attempt_at = ? "
          + "WHERE id = ? AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)")) {
        Sql.bind(ps, owner, until, now, id, now, owner);
        return ps.executeUpdate() == 1;
      }
    });
  }

  void release(String id, String owner) {
    sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE usage_connections SET lease_owner = NULL, lease_until = NULL "
          + "WHERE id = ? AND lease_owner = ?")) {
        Sql.bind(ps, id, owner);
        return ps.executeUpdate();
      }
    });
  }

  /** The credential in clear, for the pull only; empty when the connection is gone. */
  Optional<String> credential(String id) {
    String sealed = sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT credential_sealed FROM usage_connections WHERE id = ?")) {
        ps.setString(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? rs.getString(1) : null;
        }
      }
    });
    return sealed == null ? Optional.empty() : Optional.of(cipher.decrypt(sealed, context(id)));
  }

  Optional<ProviderConnection> byId(String id) {
    return sql.now(c -> query(c, "SELECT " + COLUMNS + " FROM usage_connections WHERE id = ?", id).stream().findFirst());
  }

  /** A step of a pull landed: the watermark moves to {@code watermark}. */
  void advanced(String id, Instant watermark) {
    update("UPDATE usage_connections SET watermark = ? WHERE id = ? AND watermark < ?", watermark, id, watermark);
  }

  void succeeded(String id, Instant at) {
    update("UPDATE usage_connections SET last_success_at = ?, last_error = NULL, last_error_at = NULL WHERE id = ?", at, id);
  }

  void failed(String id, String error, Instant at) {
    String clipped = error.length() > 1000 ? error.substring(0, 997) + "..." : error;
    update("UPDATE usage_connections SET last_error = ?, last_error_at = ? WHERE id = ?", clipped, at, id);
  }

  private void update(String statement, Object... values) {
    sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement(statement)) {
        Sql.bind(ps, values);
        return ps.executeUpdate();
      }
    });
  }

  private static List<ProviderConnection> query(Connection c, String q, Object... values) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(q)) {
      Sql.bind(ps, values);
      try (ResultSet rs = ps.executeQuery()) {
        List<ProviderConnection> out = new ArrayList<>();
        while (rs.next()) {
          out.add(new ProviderConnection(rs.getString("id"), rs.getString("org_id"), rs.getString("provider"), rs.getString("name"),
              Sql.instant(rs, "watermark"), Sql.instant(rs, "created_at"), Sql.instant(rs, "last_attempt_at"),
              Sql.instant(rs, "last_success_at"), rs.getString("last_error"), Sql.instant(rs, "last_error_at")));
        }
        return out;
      }
    }
  }

  private static String context(String id) {
    return "usage_connections:" + id;
  }
}
