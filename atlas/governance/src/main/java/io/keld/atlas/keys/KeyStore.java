package io.keld.atlas.keys;

import io.keld.kit.sql.Sql;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.ixp.Ids;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CompletableFuture;

/**
 * API keys: issued, listed, revoked, and checked on every request. Every check reads the key's row
 * (one primary-key lookup), so a revocation is refused by every node from the moment it commits;
 * there is no cache to go stale.
 */
public final class KeyStore implements Authenticator {

  private final Sql sql;
  private final Clock clock;

  public KeyStore(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  /** A key just issued: the only moment the key itself exists outside its holder's hands. */
  public record IssuedKey(ApiKey key, String secret) {}

  public CompletionStage<IssuedKey> issue(String orgId, String teamId, String projectId, Role role, String name, String createdBy) {
    return sql.run(c -> insert(c, orgId, teamId, projectId, role, name, createdBy));
  }

  private IssuedKey insert(Connection c, String orgId, String teamId, String projectId, Role role, String name, String createdBy)
      throws SQLException {
    String id = "key_" + Ids.random(KeyFormat.ID_CHARS);
    String secret = KeyFormat.newKey(id);
    ApiKey key = new ApiKey(id, orgId, teamId, projectId, role, name, KeyFormat.hint(secret),
        clock.instant().truncatedTo(ChronoUnit.MILLIS), createdBy, null);
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO atlas_api_keys (id, org_id, team_id, project_id, role, name, secret_sha256, hint, created_at, created_by)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      Sql.bind(ps, id, orgId, teamId, projectId, role.wire(), name, KeyFormat.sha256Hex(secret), key.hint(), key.createdAt(), createdBy);
      ps.executeUpdate();
    }
    return new IssuedKey(key, secret);
  }

  /**
   * Issues the operator bootstrap key if no node ever did: the first node to start on a fresh
   * database gets it, exactly once across a cluster (a one-row table decides). Empty otherwise.
   */
  public Optional<IssuedKey> issueBootstrapKeyOnce(TenancyStore tenancy) {
    tenancy.ensureOperatorOrganization();
    return sql.now(c -> {
      c.setAutoCommit(false);
      try {
        IssuedKey issued = insert(c, TenancyStore.OPERATOR_ORG_ID, null, null, Role.OPERATOR, "bootstrap operator key", null);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO atlas_bootstrap (id, key_id, created_at) VALUES (1, ?, ?)")) {
          Sql.bind(ps, issued.key().id(), issued.key().createdAt());
          ps.executeUpdate();
        }
        c.commit();
        return Optional.of(issued);
      } catch (SQLException e) {
        c.rollback();
        if (Sql.isUniqueViolation(e)) return Optional.empty();
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    });
  }

  /** Issues a new operator key directly in the database (the operator lost theirs; run on a node host). */
  public IssuedKey issueOperatorKey(TenancyStore tenancy, String name) {
    tenancy.ensureOperatorOrganization();
    return sql.now(c -> insert(c, TenancyStore.OPERATOR_ORG_ID, null, null, Role.OPERATOR, name, null));
  }

  public CompletionStage<Optional<ApiKey>> key(String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(SELECT + " WHERE k.id = ?")) {
        ps.setString(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(key(rs)) : Optional.empty();
        }
      }
    });
  }

  public CompletionStage<List<ApiKey>> keys(String orgId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(SELECT + " WHERE k.org_id = ? ORDER BY k.created_at, k.id")) {
        ps.setString(1, orgId);
        List<ApiKey> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(key(rs));
        }
        return out;
      }
    });
  }

  /** Revokes a key; true if this call revoked it, false if it already was. */
  public CompletionStage<Boolean> revoke(String id) {
    Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE atlas_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
        Sql.bind(ps, now, id);
        return ps.executeUpdate() == 1;
      }
    });
  }

  @Override
  public CompletionStage<Optional<Principal>> authenticate(String presented) {
    Optional<String> claimedId = KeyFormat.keyIdOf(presented);
    if (claimedId.isEmpty()) return CompletableFuture.completedFuture(Optional.empty());
    String presentedHash = KeyFormat.sha256Hex(presented);
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT k.org_id, k.team_id, k.project_id, k.role, k.secret_sha256, k.revoked_at, o.kind"
              + " FROM atlas_api_keys k JOIN atlas_organizations o ON o.id = k.org_id WHERE k.id = ?")) {
        ps.setString(1, claimedId.get());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) return Optional.empty();
          if (!KeyFormat.sameHash(presentedHash, rs.getString("secret_sha256").trim())) return Optional.empty();
          if (rs.getTimestamp("revoked_at") != null) return Optional.empty();
          return Optional.of(new Principal(claimedId.get(), rs.getString("org_id"),
              Principal.OrgKind.fromWire(rs.getString("kind")), Role.fromWire(rs.getString("role")),
              rs.getString("team_id"), rs.getString("project_id")));
        }
      }
    });
  }

  private static final String SELECT =
      "SELECT k.id, k.org_id, k.team_id, k.project_id, k.role, k.name, k.hint, k.created_at, k.created_by, k.revoked_at"
          + " FROM atlas_api_keys k";

  private static ApiKey key(ResultSet rs) throws SQLException {
    return new ApiKey(rs.getString("id"), rs.getString("org_id"), rs.getString("team_id"), rs.getString("project_id"),
        Role.fromWire(rs.getString("role")), rs.getString("name"), rs.getString("hint"), Sql.instant(rs, "created_at"),
        rs.getString("created_by"), Sql.instant(rs, "revoked_at"));
  }
}
