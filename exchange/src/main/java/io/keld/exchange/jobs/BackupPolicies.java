package io.keld.exchange.jobs;

import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Which backup a job gets: its project's policy ({@code project_backups}) when there is one, else
 * the operator's default fleet from configuration.
 */
public final class BackupPolicies {

  private final Sql sql;
  private final Clock clock;
  private final Optional<Backup> operatorDefault;

  public BackupPolicies(Sql sql, Clock clock, Optional<Backup> operatorDefault) {
    this.sql = sql;
    this.clock = clock;
    this.operatorDefault = operatorDefault;
  }

  public Optional<Backup> operatorDefault() {
    return operatorDefault;
  }

  /** The project's own policy, if it set one. */
  public CompletionStage<Optional<Backup>> ofProject(String projectId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT provider_id, model, price_per_mtok, throughput_tps FROM project_backups WHERE project_id = ?")) {
        ps.setString(1, projectId);
        try (var rs = ps.executeQuery()) {
          if (!rs.next()) return Optional.empty();
          return Optional.of(new Backup(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), "project"));
        }
      }
    });
  }

  /** The backup a new job of this project gets: the project's, else the operator's. */
  public CompletionStage<Optional<Backup>> forProject(String projectId) {
    return ofProject(projectId).thenApply(own -> own.isPresent() ? own : operatorDefault);
  }

  public CompletionStage<Backup> set(String projectId, Backup backup) {
    return sql.transaction(c -> {
      try (PreparedStatement del = c.prepareStatement("DELETE FROM project_backups WHERE project_id = ?");
          PreparedStatement ins = c.prepareStatement("INSERT INTO project_backups (project_id, provider_id, model, price_per_mtok, "
              + "throughput_tps, updated_at) VALUES (?,?,?,?,?,?)")) {
        del.setString(1, projectId);
        del.executeUpdate();
        Sql.bind(ins, projectId, backup.providerId(), backup.model(), backup.pricePerMtok(), backup.throughputTps(), clock.instant());
        ins.executeUpdate();
        return new Backup(backup.providerId(), backup.model(), backup.pricePerMtok(), backup.throughputTps(), "project");
      }
    });
  }

  public CompletionStage<Boolean> remove(String projectId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM project_backups WHERE project_id = ?")) {
        ps.setString(1, projectId);
        return ps.executeUpdate() > 0;
      }
    });
  }
}
