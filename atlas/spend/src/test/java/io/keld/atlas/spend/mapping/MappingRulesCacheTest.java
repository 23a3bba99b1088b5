package io.keld.atlas.spend.mapping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.kit.CacheSettings;
import io.keld.kit.sql.Sql;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The snapshot cache: a rule change made here shows at once, a new project within the cache's time. */
class MappingRulesCacheTest {

  final AtomicLong nanos = new AtomicLong();
  // Reads run on the calling thread: the cache stamps an entry's time when its load completes, and
  // a load finishing on another thread could be stamped after the test has moved the clock on.
  final Executor blocking = Runnable::run;
  JdbcDataSource db;
  MappingRules rules;

  @BeforeEach
  void database() throws Exception {
    db = new JdbcDataSource();
    db.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1;DATABASE_TO_UPPER=false");
    execute("CREATE TABLE mapping_rules (org_id VARCHAR(64) PRIMARY KEY, rules_json VARCHAR(65535) NOT NULL,"
        + " updated_at TIMESTAMP WITH TIME ZONE NOT NULL)",
        "CREATE TABLE atlas_teams (id VARCHAR(64) PRIMARY KEY, org_id VARCHAR(64) NOT NULL)",
        "CREATE TABLE atlas_projects (id VARCHAR(64) PRIMARY KEY, org_id VARCHAR(64) NOT NULL, team_id VARCHAR(64) NOT NULL)",
        "INSERT INTO atlas_teams VALUES ('team_a', 'org_a')",
        "INSERT INTO atlas_projects VALUES ('prj_a', 'org_a', 'team_a')");
    rules = new MappingRules(new Sql(db, blocking), Clock.systemUTC(), new CacheSettings(100, Duration.ofSeconds(10)), nanos::get);
  }

  @Test
  void aNewProjectShowsOnceTheCachesTimeHasPassed() throws Exception {
    assertEquals(Map.of("prj_a", "team_a"), snapshot().projectTeams());
    execute("INSERT INTO atlas_projects VALUES ('prj_b', 'org_a', 'team_a')");
    nanos.addAndGet(Duration.ofSeconds(9).toNanos());
    assertFalse(snapshot().projectTeams().containsKey("prj_b"));
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    assertTrue(snapshot().projectTeams().containsKey("prj_b"));
  }

  @Test
  void replacedRulesShowAtOnceAndReadBackAsWritten() {
    assertEquals(List.of(), snapshot().rules());
    List<MappingRules.Rule> list = List.of(
        new MappingRules.Rule("crawler", Map.of("service.name", "crawler-*"), new MappingRules.Assignment(null, "prj_a", null, "opex")),
        new MappingRules.Rule(null, Map.of("env", "prod"), new MappingRules.Assignment("team_a", null, "batch", null)));
    rules.replace("org_a", list).toCompletableFuture().join();
    assertEquals(list, snapshot().rules());
    assertEquals(list, rules.rules("org_a").toCompletableFuture().join().rules());
  }

  private MappingRules.Snapshot snapshot() {
    return rules.snapshot("org_a").toCompletableFuture().join();
  }

  private void execute(String... statements) throws Exception {
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      for (String sql : statements) s.execute(sql);
    }
  }
}
