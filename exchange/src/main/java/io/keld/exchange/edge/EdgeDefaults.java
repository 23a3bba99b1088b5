package io.keld.exchange.edge;

import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A project's defaults for the OpenAI-compatible edge: the use case, deadline and ceiling a request
 * gets when it sends no {@code X-Keld-*} header ({@code project_edge_defaults}). Read through a
 * short cache, so the hot path does not read the database per request; a change shows within
 * {@link #CACHE_FOR}.
 */
public final class EdgeDefaults {

  public static final Duration CACHE_FOR = Duration.ofSeconds(5);

  /**
   * @param useCase        the use case, or null
   * @param deadline       an ISO-8601 duration from the request's arrival, or null
   * @param ceilingPerMtok micro-USD per million tokens, or null
   */
  public record Defaults(String useCase, Duration deadline, Long ceilingPerMtok) {
    public static final Defaults NONE = new Defaults(null, null, null);
  }

  private record Cached(Defaults defaults, long atNanos) {}

  private final Sql sql;
  private final Clock clock;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  public EdgeDefaults(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  public CompletionStage<Defaults> of(String projectId) {
    Cached c = cache.get(projectId);
    if (c != null && System.nanoTime() - c.atNanos() < CACHE_FOR.toNanos()) return CompletableFuture.completedFuture(c.defaults());
    return read(projectId).thenApply(d -> {
      Defaults found = d.orElse(Defaults.NONE);
      cache.put(projectId, new Cached(found, System.nanoTime()));
      return found;
    });
  }

  public CompletionStage<Optional<Defaults>> read(String projectId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT use_case, deadline, ceiling_per_mtok FROM project_edge_defaults WHERE project_id = ?")) {
        ps.setString(1, projectId);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) return Optional.<Defaults>empty();
          long ceiling = rs.getLong("ceiling_per_mtok");
          Long ceilingOrNull = rs.wasNull() ? null : ceiling;
          String deadline = rs.getString("deadline");
          return Optional.of(new Defaults(rs.getString("use_case"), deadline == null ? null : Duration.parse(deadline), ceilingOrNull));
        }
      }
    });
  }

  public CompletionStage<Defaults> set(String projectId, Defaults d) {
    return sql.transaction(c -> {
      try (PreparedStatement del = c.prepareStatement("DELETE FROM project_edge_defaults WHERE project_id = ?");
          PreparedStatement ins = c.prepareStatement(
              "INSERT INTO project_edge_defaults (project_id, use_case, deadline, ceiling_per_mtok, updated_at) VALUES (?,?,?,?,?)")) {
        del.setString(1, projectId);
        del.executeUpdate();
        Sql.bind(ins, projectId, d.useCase(), d.deadline() == null ? null : d.deadline().toString(), d.ceilingPerMtok(), clock.instant());
        ins.executeUpdate();
      }
      cache.remove(projectId);
      return d;
    });
  }

  public CompletionStage<Boolean> remove(String projectId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM project_edge_defaults WHERE project_id = ?")) {
        ps.setString(1, projectId);
        boolean removed = ps.executeUpdate() > 0;
        cache.remove(projectId);
        return removed;
      }
    });
  }
}
