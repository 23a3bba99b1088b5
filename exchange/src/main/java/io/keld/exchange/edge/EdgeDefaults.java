package io.keld.exchange.edge;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import io.keld.kit.CacheSettings;
import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * A project's defaults for the OpenAI-compatible edge: the use case, deadline and ceiling a request
 * gets when it sends no {@code X-Keld-*} header ({@code project_edge_defaults}). Read through a
 * cache, so the hot path does not read the database per request; a change made on another node
 * shows within the cache's time (on this node, at once). Requests for one project at once share one read.
 */
public final class EdgeDefaults {

  /**
   * @param useCase        the use case, or null
   * @param deadline       an ISO-8601 duration from the request's arrival, or null
   * @param ceilingPerMtok micro-USD per million tokens, or null
   */
  public record Defaults(String useCase, Duration deadline, Long ceilingPerMtok) {
    public static final Defaults NONE = new Defaults(null, null, null);
  }

  private final Sql sql;
  private final Clock clock;
  private final AsyncLoadingCache<String, Defaults> cache;

  public EdgeDefaults(Sql sql, Clock clock, CacheSettings cache) {
    this.sql = sql;
    this.clock = clock;
    this.cache = cache.caffeine().buildAsync((projectId, executor) ->
        read(projectId).thenApply(d -> d.orElse(Defaults.NONE)).toCompletableFuture());
  }

  public CompletionStage<Defaults> of(String projectId) {
    return cache.get(projectId);
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
      cache.synchronous().invalidate(projectId);
      return d;
    });
  }

  public CompletionStage<Boolean> remove(String projectId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM project_edge_defaults WHERE project_id = ?")) {
        ps.setString(1, projectId);
        boolean removed = ps.executeUpdate() > 0;
        cache.synchronous().invalidate(projectId);
        return removed;
      }
    });
  }
}
