package io.keld.kit.sql;

import com.typesafe.config.Config;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's own view of its database: applies the schema migrations at start-up and answers the
 * readiness probe. The persistence plugins (journal, snapshots, read journal, durable state) share
 * one Slick pool configured in {@code config/keld.conf}; this small pool is for Keld's own work
 * (migrations, health, read-side tables), so a busy journal can never starve the health check.
 */
public final class KeldDatabase implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KeldDatabase.class);

  private final String vendor;
  private final String url;
  private final HikariDataSource dataSource;

  private KeldDatabase(String vendor, String url, HikariDataSource dataSource) {
    this.vendor = vendor;
    this.url = url;
    this.dataSource = dataSource;
  }

  /** Connects with the settings under {@code keld.database}; fails fast with a clear message. */
  public static KeldDatabase connect(Config config) {
    Config db = config.getConfig("keld.database");
    HikariConfig hikari = new HikariConfig();
    hikari.setPoolName("keld");
    hikari.setJdbcUrl(db.getString("url"));
    hikari.setUsername(db.getString("user"));
    hikari.setPassword(db.getString("password"));
    hikari.setMaximumPoolSize(db.hasPath("app-pool-size") ? db.getInt("app-pool-size") : 8);
    hikari.setMinimumIdle(1);
    hikari.setConnectionTimeout(10_000);
    // Fail at start-up, not at the first request, when the database is unreachable.
    hikari.setInitializationFailTimeout(10_000);
    try {
      return new KeldDatabase(db.getString("vendor"), db.getString("url"), new HikariDataSource(hikari));
    } catch (RuntimeException e) {
      throw new DatabaseUnavailableException(
          "cannot connect to the database at " + redact(db.getString("url")) + ": " + rootMessage(e), e);
    }
  }

  /** Brings the schema up to date: the persistence plugin tables plus Keld's own tables. */
  public MigrateResult migrate() {
    Flyway flyway =
        Flyway.configure()
            .dataSource(dataSource)
            // Per vendor where the SQL differs (the persistence plugin's tables), common where it does not.
            .locations("classpath:db/migration/" + vendor, "classpath:db/migration/common")
            .failOnMissingLocations(true)
            .load();
    MigrateResult result = flyway.migrate();
    log.info(
        "Database schema at version {} ({} migration(s) applied) on {}",
        result.targetSchemaVersion != null ? result.targetSchemaVersion : result.initialSchemaVersion,
        result.migrationsExecuted,
        redact(url));
    return result;
  }

  /** True when the database answers within {@code timeoutSeconds}. */
  public boolean isReachable(int timeoutSeconds) {
    try (Connection c = dataSource.getConnection()) {
      return c.isValid(timeoutSeconds);
    } catch (SQLException e) {
      return false;
    }
  }

  public DataSource dataSource() {
    return dataSource;
  }

  public String vendor() {
    return vendor;
  }

  @Override
  public void close() {
    dataSource.close();
  }

  /** The URL without credentials that some drivers accept inline (user=, password=). */
  public static String redact(String jdbcUrl) {
    return jdbcUrl.replaceAll("(?i)(password=)[^&;]*", "$1***");
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) t = t.getCause();
    return t.getMessage();
  }

  /** The database cannot be reached; the message says where it was looked for. */
  public static final class DatabaseUnavailableException extends RuntimeException {
    DatabaseUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
