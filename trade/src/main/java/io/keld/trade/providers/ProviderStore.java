package io.keld.trade.providers;

import io.keld.kit.ProblemException;
import io.keld.kit.sql.Sql;
import io.keld.ixp.problem.ProblemType;
import io.keld.ixp.Ids;
import io.keld.trade.crypto.CredentialCipher;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Provider endpoints and served models, in SQL tables ({@code V3__trade.sql}). Credentials go in
 * encrypted and come out only through {@link #credential}, for the data plane; nothing that lists or
 * shows an endpoint reads them.
 */
public final class ProviderStore {

  private final Sql sql;
  private final CredentialCipher cipher;
  private final Clock clock;

  public ProviderStore(Sql sql, CredentialCipher cipher, Clock clock) {
    this.sql = sql;
    this.cipher = cipher;
    this.clock = clock;
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

  private Void verifyAgain(java.sql.Connection c) throws SQLException {
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
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_endpoints (id, org_id, name, base_url, credential_cipher, "
          + "credential_hint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
        Sql.bind(ps, id, orgId, name, baseUrl, sealed, hint, at);
        ps.executeUpdate();
      } catch (SQLException e) {
        if (Sql.isUniqueViolation(e)) throw ProblemException.of(ProblemType.CONFLICT, "an endpoint named '" + name + "' exists already");
        throw e;
      }
      return new Endpoint(id, orgId, name, baseUrl, credential != null, hint, at);
    });
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

  public CompletionStage<Boolean> deleteEndpoint(String orgId, String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM trade_endpoints WHERE org_id = ? AND id = ?")) {
        Sql.bind(ps, orgId, id);
        return ps.executeUpdate() == 1;
      }
    });
  }

  /** Creates or replaces what a provider serves a model for. */
  public CompletionStage<ServedModel> putModel(String orgId, String model, List<String> useCases, List<String> regions) {
    ServedModel m = new ServedModel(orgId, model, List.copyOf(useCases), List.copyOf(regions), now());
    return sql.run(c -> {
      // Replaced in one transaction: nobody sees the model missing in between.
      c.setAutoCommit(false);
      try {
        try (PreparedStatement upd = c.prepareStatement("UPDATE trade_models SET use_cases = ?, regions = ?, updated_at = ? WHERE org_id = ? AND model = ?")) {
          Sql.bind(upd, String.join(",", m.useCases()), String.join(",", m.regions()), m.updatedAt(), orgId, model);
          if (upd.executeUpdate() == 0) {
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO trade_models (org_id, model, use_cases, regions, updated_at) VALUES (?, ?, ?, ?, ?)")) {
              Sql.bind(ins, orgId, model, String.join(",", m.useCases()), String.join(",", m.regions()), m.updatedAt());
              ins.executeUpdate();
            }
          }
        }
        c.commit();
      } catch (SQLException e) {
        c.rollback();
        if (Sql.isUniqueViolation(e)) throw ProblemException.of(ProblemType.CONFLICT, "model '" + model + "' was registered at the same moment; try again");
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
      return m;
    });
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
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM trade_models WHERE org_id = ? AND model = ?")) {
        Sql.bind(ps, orgId, model);
        return ps.executeUpdate() == 1;
      }
    });
  }

  private static Endpoint endpoint(ResultSet rs) throws SQLException {
    return new Endpoint(rs.getString("id"), rs.getString("org_id"), rs.getString("name"), rs.getString("base_url"),
        rs.getString("credential_cipher") != null, rs.getString("credential_hint"), Sql.instant(rs, "created_at"));
  }

  private static ServedModel model(ResultSet rs) throws SQLException {
    return new ServedModel(rs.getString("org_id"), rs.getString("model"), split(rs.getString("use_cases")), split(rs.getString("regions")),
        Sql.instant(rs, "updated_at"));
  }

  private static List<String> split(String csv) {
    return csv == null || csv.isEmpty() ? List.of() : Arrays.asList(csv.split(","));
  }
}
