package io.keld.atlas.audit;

import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The audit log, an append-only table. A call's response is sent only after its entry is written,
 * so an acknowledged change is never missing from the log. Entries hold ids and outcomes, never
 * request bodies or keys.
 */
public final class AuditLog {

  private final Sql sql;
  private final Clock clock;

  public AuditLog(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  public CompletionStage<Void> record(String orgId, String keyId, String action, String target, String outcome, int status, String detail) {
    Instant at = clock.instant().truncatedTo(ChronoUnit.MILLIS);
    String d = detail == null ? null : detail.length() > 500 ? detail.substring(0, 497) + "..." : detail;
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO atlas_audit_log (at, org_id, key_id, action, target, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
        Sql.bind(ps, at, orgId, keyId, action, target, outcome, status, d);
        ps.executeUpdate();
      }
      return null;
    });
  }

  /**
   * Newest first. {@code orgId} null means every organization (the operator's view);
   * {@code beforeId} pages backwards; {@code action} filters when set.
   */
  public CompletionStage<List<AuditEntry>> query(String orgId, Long beforeId, String action, int limit) {
    StringBuilder q = new StringBuilder(
        "SELECT id, at, org_id, key_id, action, target, outcome, status, detail FROM atlas_audit_log WHERE 1 = 1");
    List<Object> args = new ArrayList<>();
    if (orgId != null) {
      q.append(" AND org_id = ?");
      args.add(orgId);
    }
    if (beforeId != null) {
      q.append(" AND id < ?");
      args.add(beforeId);
    }
    if (action != null) {
      q.append(" AND action = ?");
      args.add(action);
    }
    q.append(" ORDER BY id DESC LIMIT ?");
    args.add(limit);
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(q.toString())) {
        Sql.bind(ps, args.toArray());
        List<AuditEntry> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(entry(rs));
        }
        return out;
      }
    });
  }

  private static AuditEntry entry(ResultSet rs) throws SQLException {
    return new AuditEntry(rs.getLong("id"), Sql.instant(rs, "at"), rs.getString("org_id"), rs.getString("key_id"),
        rs.getString("action"), rs.getString("target"), rs.getString("outcome"), rs.getInt("status"), rs.getString("detail"));
  }
}
