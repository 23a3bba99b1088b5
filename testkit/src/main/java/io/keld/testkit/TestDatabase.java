package io.keld.testkit;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A database for one test: an H2 file in a temporary folder, or a fresh schema in the PostgreSQL
 * database named by {@code KELD_TEST_DB_URL} (default {@code jdbc:postgresql://127.0.0.1:5432/keld_test},
 * user {@code KELD_TEST_DB_USER}, default {@code postgres}).
 *
 * <p>PostgreSQL tests skip with a message when no server answers, except under {@code CI=true},
 * where they fail: CI must never pass by silently not testing the production store.
 */
public final class TestDatabase implements AutoCloseable {

  public static final String DEFAULT_PG_URL = "jdbc:postgresql://127.0.0.1:5432/keld_test";

  private final String vendor;
  private final String url;
  private final String user;
  private final String password;
  private final Runnable cleanup;

  private TestDatabase(String vendor, String url, String user, String password, Runnable cleanup) {
    this.vendor = vendor;
    this.url = url;
    this.user = user;
    this.password = password;
    this.cleanup = cleanup;
  }

  public static TestDatabase h2(Path dir) {
    String url = "jdbc:h2:file:" + dir.toAbsolutePath().resolve("keld") + ";DATABASE_TO_UPPER=false;DB_CLOSE_ON_EXIT=FALSE";
    return new TestDatabase("h2", url, "sa", "", () -> {});
  }

  /** A new, empty schema in the test PostgreSQL database; dropped on {@link #close()}. */
  public static TestDatabase postgres() {
    String baseUrl = env("KELD_TEST_DB_URL", DEFAULT_PG_URL);
    String user = env("KELD_TEST_DB_USER", "postgres");
    String password = env("KELD_TEST_DB_PASSWORD", "");
    ensureDatabaseExists(baseUrl, user, password);
    String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    execute(baseUrl, user, password, "CREATE SCHEMA " + schema);
    String url = baseUrl + (baseUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema + "&reWriteBatchedInserts=true";
    return new TestDatabase("postgresql", url, user, password,
        () -> execute(baseUrl, user, password, "DROP SCHEMA IF EXISTS " + schema + " CASCADE"));
  }

  /** The settings that point a node at this database (for {@code KeldConfig.Overrides.extra}, or {@link ModuleNode#config}). */
  public Map<String, Object> nodeSettings() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("keld.database.vendor", vendor);
    s.put("keld.database.url", url);
    s.put("keld.database.user", user);
    s.put("keld.database.password", password);
    s.put("keld.database.pool-size", 4);
    if (vendor.equals("postgresql")) {
      s.put("pekko-persistence-jdbc.shared-databases.slick.profile", "slick.jdbc.PostgresProfile$");
      s.put("pekko-persistence-jdbc.shared-databases.slick.db.driver", "org.postgresql.Driver");
    }
    return s;
  }

  public String vendor() {
    return vendor;
  }

  public Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, password);
  }

  @Override
  public void close() {
    cleanup.run();
  }

  private static void ensureDatabaseExists(String url, String user, String password) {
    try (Connection ignored = DriverManager.getConnection(url, user, password)) {
      return;
    } catch (SQLException e) {
      if (!"3D000".equals(e.getSQLState())) unreachable(url, e); // 3D000: database does not exist
    }
    String dbName = url.replaceAll("^.*/([^/?]+)(\\?.*)?$", "$1");
    String maintenanceUrl = url.replaceAll("/[^/?]+(\\?.*)?$", "/postgres$1");
    execute(maintenanceUrl, user, password, "CREATE DATABASE " + dbName);
  }

  private static void execute(String url, String user, String password, String sql) {
    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      unreachable(url, e);
    }
  }

  private static void unreachable(String url, SQLException e) {
    String message = "PostgreSQL at " + url + " is not usable: " + e.getMessage();
    if ("true".equalsIgnoreCase(System.getenv("CI"))) Assertions.fail(message + " (CI=true: PostgreSQL tests must run)", e);
    Assumptions.abort(message + " (skipped outside CI; set KELD_TEST_DB_URL or start PostgreSQL)");
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }
}
