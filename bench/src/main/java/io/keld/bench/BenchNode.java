package io.keld.bench;

import com.typesafe.config.Config;
import io.keld.node.KeldNode;
import io.keld.node.config.KeldConfig;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A Keld node for a benchmark, on a local PostgreSQL: {@code KELD_BENCH_DB_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/keld_bench}, created if missing), {@code KELD_BENCH_DB_USER}
 * (default postgres), {@code KELD_BENCH_DB_PASSWORD}. Each run works in a fresh schema, dropped afterwards.
 */
final class BenchNode {

  @FunctionalInterface
  interface Work<T> {
    T run(KeldNode node) throws Exception;
  }

  private BenchNode() {}

  /** Starts a node in a fresh schema, runs {@code work} once it is ready, stops it and drops the schema. */
  static <T> T onPostgres(Path dataDir, Work<T> work) throws Exception {
    String baseUrl = dbUrl();
    String user = dbUser();
    String password = dbPassword();
    ensureDatabase(baseUrl, user, password);
    String schema = "bench_" + Long.toHexString(System.nanoTime());
    execute(baseUrl, user, password, "CREATE SCHEMA " + schema);
    try {
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("keld.database.vendor", "postgresql");
      extra.put("keld.database.url", baseUrl + (baseUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema + "&reWriteBatchedInserts=true");
      extra.put("keld.database.user", user);
      extra.put("keld.database.password", password);
      extra.put("keld.http.interface", "127.0.0.1");
      extra.put("keld.otlp.port", freePort());
      extra.put("pekko.loglevel", "WARNING");
      extra.put("pekko-persistence-jdbc.shared-databases.slick.profile", "slick.jdbc.PostgresProfile$");
      extra.put("pekko-persistence-jdbc.shared-databases.slick.db.driver", "org.postgresql.Driver");
      Config config = KeldConfig.load("dev", new KeldConfig.Overrides(0, 0, freePort(), dataDir, null, extra));
      KeldNode node = KeldNode.start(config);
      try {
        node.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return work.run(node);
      } finally {
        node.stop();
        node.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
    } finally {
      execute(baseUrl, user, password, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
  }

  private static void ensureDatabase(String url, String user, String password) throws SQLException {
    try (Connection ignored = DriverManager.getConnection(url, user, password)) {
      return;
    } catch (SQLException e) {
      if (!"3D000".equals(e.getSQLState())) throw e;
    }
    String db = url.replaceAll("^.*/([^/?]+)(\\?.*)?$", "$1");
    execute(url.replaceAll("/[^/?]+(\\?.*)?$", "/postgres$1"), user, password, "CREATE DATABASE " + db);
  }

  private static void execute(String url, String user, String password, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The benchmark database server's CPU and WAL counters now, or null (see {@link PostgresCounters}). */
  static PostgresCounters postgresCounters() {
    return PostgresCounters.now(dbUrl(), dbUser(), dbPassword());
  }

  /**
   * Milliseconds the benchmark database server's checkpoints have spent syncing data files so far, or
   * -1 if it cannot say. The sync is where a checkpoint stalls commits on this machine (100–260 ms), and
   * the counter moves when a checkpoint finishes, so its change over a phase is the sync time of the
   * checkpoints that ended in it. PostgreSQL 17 moved the counter to {@code pg_stat_checkpointer}.
   */
  static long postgresCheckpointSyncMillis() {
    try (Connection c = DriverManager.getConnection(dbUrl(), dbUser(), dbPassword());
        Statement s = c.createStatement()) {
      String view = c.getMetaData().getDatabaseMajorVersion() >= 17
          ? "SELECT sync_time FROM pg_stat_checkpointer"
          : "SELECT checkpoint_sync_time FROM pg_stat_bgwriter";
      try (java.sql.ResultSet rs = s.executeQuery(view)) {
        return rs.next() ? Math.round(rs.getDouble(1)) : -1;
      }
    } catch (SQLException e) {
      return -1;
    }
  }

  /** The benchmark database, as the class comment says: one place for its defaults. */
  private static String dbUrl() {
    return env("KELD_BENCH_DB_URL", "jdbc:postgresql://127.0.0.1:5432/keld_bench");
  }

  private static String dbUser() {
    return env("KELD_BENCH_DB_USER", "postgres");
  }

  private static String dbPassword() {
    return env("KELD_BENCH_DB_PASSWORD", "");
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }
}
