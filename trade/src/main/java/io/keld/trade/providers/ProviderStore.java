package io.keld.trade.providers;

import io.keld.kit.ProblemException;
import io.keld.kit.sql.Sql;
import io.keld.ixp.problem.ProblemType;
import io.keld.ixp.Ids;
import io.keld.kit.crypto.CredentialCipher;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.sql.Connection;

/**
 * Provider endpoints and served models, in SQL tables ({@code V3__trade.sql}, {@code V7__trade_model_endpoints.sql}). Credentials go in
 * encrypted and come out only through {@link #credential}, for the data plane; nothing that lists or
 * shows an endpoint reads them.
 */
public final class ProviderStore {

  private final Sql sql;
  private final CredentialCipher cipher;
  private final Clock clock;
  /** How many writes to endpoints and models this store has finished: readers that cache what they read compare it. */
  private final AtomicLong changes = new AtomicLong();

  public ProviderStore(Sql sql, CredentialCipher cipher, Clock clock) {
    this.sql = sql;
    this.cipher = cipher;
    this.clock = clock;
  }

  /**
   * How many changes to endpoints and models this store has made so far. A change counts once its
   * transaction has ended, so what was read after this number was taken is at least as new as it.
   */
  public long changes() {
    return changes.get();
  }

  private <T> CompletionStage<T> counted(CompletionStage<T> write) {
    return write.whenComplete((result, failure) -> changes.incrementAndGet());
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }

  /** Checks the master key against this database at start-up (storing the check on the first start). */
  public void verifyMasterKey() {
    sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT check_value FROM trade_master_key_check WHERE id = 1");
          ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          cipher.verifyCheck(rs.getString(1));
          return null;
        }
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_master_key_check (id, check_value) VALUES (1, ?)")) {
        ps.setString(1, cipher.newCheck());
        ps.executeUpdate();
      } catch (SQLException e) {
        if (!Sql.isUniqueViolation(e)) throw e;
        return verifyAgain(c);
      }
      return null;
    });
  }

  private Void verifyAgain(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT check_value FROM trade_master_key_check WHERE id = 1");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      cipher.verifyCheck(rs.getString(1)); // another node stored it first
    }
    return null;
  }

  public CompletionStage<Endpoint> createEndpoint(String orgId, String name, String baseUrl, String credential) {
    String id = Ids.next("end");
    Instant at = now();
    String sealed = credential == null ? null : cipher.encrypt(credential, id);
    // A hint only for a credential long enough that its last four characters give nothing away.
    String hint = credential == null || credential.length() < 12 ? null : credential.substring(credential.length() - 4);
    return counted(sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_endpoints (id, org_id, name, base_url, credential_cipher, "
          + "credential_hint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
        Sql.bind(ps, id, orgId, name, baseUrl, sealed, hint, at);
        ps.executeUpdate();
      } catch (SQLException e) {
        if (Sql.isUniqueViolation(e)) throw ProblemException.of(ProblemType.CONFLICT, "an endpoint named '" + name + "' exists already");
        throw e;
      }
      return new Endpoint(id, orgId, name, baseUrl, credential != null, hint, at);
    }));
  }

  public CompletionStage<List<Endpoint>> endpoints(String orgId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_endpoints WHERE org_id = ? ORDER BY created_at, id")) {
        ps.setString(1, orgId);
        List<Endpoint> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(endpoint(rs));
        }
        return out;
      }
    });
  }

  public CompletionStage<Optional<Endpoint>> endpoint(String orgId, String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_endpoints WHERE org_id = ? AND id = ?")) {
        Sql.bind(ps, orgId, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(endpoint(rs)) : Optional.<Endpoint>empty();
        }
      }
    });
  }

  /** The endpoint's credential in clear, for the data plane only; never for an API response. */
  public CompletionStage<Optional<String>> credential(String endpointId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT credential_cipher FROM trade_endpoints WHERE id = ?")) {
        ps.setString(1, endpointId);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next() || rs.getString(1) == null) return Optional.<String>empty();
          return Optional.of(cipher.decrypt(rs.getString(1), endpointId));
        }
      }
    });
  }

  /**
   * Deletes an endpoint; refused with a conflict while a model names it (the model would silently
   * move to another endpoint).
   */
  public CompletionStage<Boolean> deleteEndpoint(String orgId, String id) {
    return counted(sql.run(c -> {
      List<String> serving = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT model FROM trade_models WHERE org_id = ? AND endpoint_id = ? ORDER BY model")) {
        Sql.bind(ps, orgId, id);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) serving.add(rs.getString(1));
        }
      }
      if (!serving.isEmpty()) throw servesModels(id, serving);
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM trade_endpoints WHERE org_id = ? AND id = ?")) {
        Sql.bind(ps, orgId, id);
        return ps.executeUpdate() == 1;
      } catch (SQLException e) {
        if (isForeignKeyViolation(e)) throw servesModels(id, List.of()); // a model named it meanwhile
        throw e;
      }
    }));
  }

  private static ProblemException servesModels(String endpointId, List<String> models) {
    return ProblemException.of(ProblemType.CONFLICT, "endpoint " + endpointId + " serves "
        + (models.isEmpty() ? "a model" : "model" + (models.size() == 1 ? " " : "s ") + String.join(", ", models))
        + "; register " + (models.size() == 1 ? "it" : "them") + " with another endpoint_id (or none) first");
  }

  /**
   * The endpoint that serves a provider's model: the one the model names, else the provider's
   * first endpoint (the oldest). Empty when the provider has no endpoint at all.
   */
  public CompletionStage<Optional<Endpoint>> servingEndpoint(String orgId, String model) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT e.* FROM trade_models m JOIN trade_endpoints e ON e.id = m.endpoint_id "
          + "WHERE m.org_id = ? AND m.model = ?")) {
        Sql.bind(ps, orgId, model);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) return Optional.of(endpoint(rs));
        }
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_endpoints WHERE org_id = ? ORDER BY created_at, id LIMIT 1")) {
        ps.setString(1, orgId);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(endpoint(rs)) : Optional.<Endpoint>empty();
        }
      }
    });
  }

  /**
   * Creates or replaces what a provider serves a model for.
   *
   * @param endpointId the provider's endpoint that serves the model, or null for its first endpoint
   */
  public CompletionStage<ServedModel> putModel(String orgId, String model, List<String> useCases, List<String> regions, String endpointId) {
    ServedModel m = new ServedModel(orgId, model, List.copyOf(useCases), List.copyOf(regions), endpointId, now());
    return counted(sql.run(c -> {
      // Replaced in one transaction: nobody sees the model missing in between.
      c.setAutoCommit(false);
      try {
        if (endpointId != null) {
          try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM trade_endpoints WHERE org_id = ? AND id = ?")) {
            Sql.bind(ps, orgId, endpointId);
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) throw unknownEndpoint(endpointId);
            }
          }
        }
        try (PreparedStatement upd = c.prepareStatement("UPDATE trade_models SET use_cases = ?, regions = ?, endpoint_id = ?, updated_at = ? "
            + "WHERE org_id = ? AND model = ?")) {
          Sql.bind(upd, String.join(",", m.useCases()), String.join(",", m.regions()), endpointId, m.updatedAt(), orgId, model);
          if (upd.executeUpdate() == 0) {
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO trade_models (org_id, model, use_cases, regions, endpoint_id, updated_at) "
                + "VALUES (?, ?, ?, ?, ?, ?)")) {
              Sql.bind(ins, orgId, model, String.join(",", m.useCases()), String.join(",", m.regions()), endpointId, m.updatedAt());
              ins.executeUpdate();
            }
          }
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        if (Sql.isUniqueViolation(e)) throw ProblemException.of(ProblemType.CONFLICT, "model '" + model + "' was registered at the same moment; try again");
        if (isForeignKeyViolation(e)) throw unknownEndpoint(endpointId); // deleted meanwhile
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
      return m;
    }));
  }

  public CompletionStage<List<ServedModel>> models(String orgId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_models WHERE org_id = ? ORDER BY model")) {
        ps.setString(1, orgId);
        List<ServedModel> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(model(rs));
        }
        return out;
      }
    });
  }

  public CompletionStage<Optional<ServedModel>> model(String orgId, String model) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_models WHERE org_id = ? AND model = ?")) {
        Sql.bind(ps, orgId, model);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(model(rs)) : Optional.<ServedModel>empty();
        }
      }
    });
  }

  public CompletionStage<Boolean> deleteModel(String orgId, String model) {
    return counted(sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM trade_models WHERE org_id = ? AND model = ?")) {
        Sql.bind(ps, orgId, model);
        return ps.executeUpdate() == 1;
      }
    }));
  }

  private static Endpoint endpoint(ResultSet rs) throws SQLException {
    return new Endpoint(rs.getString("id"), rs.getString("org_id"), rs.getString("name"), rs.getString("base_url"),
        rs.getString("credential_cipher") != null, rs.getString("credential_hint"), Sql.instant(rs, "created_at"));
  }

  private static ServedModel model(ResultSet rs) throws SQLException {
    return new ServedModel(rs.getString("org_id"), rs.getString("model"), split(rs.getString("use_cases")), split(rs.getString("regions")),
        rs.getString("endpoint_id"), Sql.instant(rs, "updated_at"));
  }

  private static ProblemException unknownEndpoint(String endpointId) {
    return ProblemException.invalid("endpoint_id", "endpoint_id '" + endpointId + "' is not one of your endpoints (GET /trade/v1/endpoints)");
  }

  /** SQLSTATE 23503 (PostgreSQL, and H2 for a row still referenced) or 23506 (H2, for a referenced row missing). */
  private static boolean isForeignKeyViolation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && ("23503".equals(s.getSQLState()) || "23506".equals(s.getSQLState()))) return true;
    }
    return false;
  }

  private static List<String> split(String csv) {
    return csv == null || csv.isEmpty() ? List.of() : Arrays.asList(csv.split(","));
  }
}
