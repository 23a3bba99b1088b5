package io.keld.atlas.spend.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.kit.sql.Sql;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL, {@code usage_records_resource} indexes only records that carry an OpenTelemetry
 * resource (migration V20): a real-time request's usage record has none and writes no entry there,
 * while the one query that reads the index, by resource, still uses it.
 */
class UsageRecordsResourceIndexTest {

  @Test
  void onlyRecordsWithAResourceAreIndexedAndTheQueryByResourceStillUsesTheIndex() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      ModuleNode node = ModuleNode.start(ModuleNode.config(db));
      try {
        Ledger ledger = new Ledger(new Sql(node.dataSource(), node.blocking()), Clock.systemUTC());
        try (Connection c = db.connect()) {
          Sql.inTransaction(c, tx -> ledger.appendNewInTransaction(tx, List.of(record("e1", null), record("e2", null),
              record("e3", null), record("e4", "res_1"))));
          try (Statement s = c.createStatement()) {
            // ANALYZE reads all four rows and counts, for a partial index, the rows its predicate admits.
            s.execute("ANALYZE usage_records");
          }
          assertEquals(4, reltuples(c, "usage_records_event_unique"), "a full index has an entry for every record");
          assertEquals(1, reltuples(c, "usage_records_resource"), "only the record with a resource is in the partial index");
          String definition = indexDef(c);
          assertTrue(definition.endsWith("WHERE (resource_id IS NOT NULL)"), definition);

          // The query by resource, as a generic plan (its parameter unknown): the index still serves it.
          try (Statement s = c.createStatement()) {
            s.execute("SET enable_seqscan = off");
            s.execute("SET plan_cache_mode = force_generic_plan");
            s.execute("PREPARE by_resource(varchar, timestamptz) AS SELECT count(*) FROM usage_records WHERE resource_id = $1 "
                + "AND period_end > $2");
            StringBuilder plan = new StringBuilder();
            try (ResultSet rs = s.executeQuery("EXPLAIN EXECUTE by_resource('res_1', '2026-01-01T00:00:00Z')")) {
              while (rs.next()) plan.append(rs.getString(1)).append('\n');
            }
            assertTrue(plan.toString().contains("usage_records_resource"), plan.toString());
            try (ResultSet rs = s.executeQuery("EXECUTE by_resource('res_1', '2026-01-01T00:00:00Z')")) {
              rs.next();
              assertEquals(1, rs.getLong(1));
            }
          }
        }
      } finally {
        node.stop();
      }
    }
  }

  /** What the last ANALYZE counted in {@code relation}, in this test's own schema (other tests have theirs). */
  private static long reltuples(Connection c, String relation) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT reltuples FROM pg_class WHERE relname = '" + relation + "' AND relnamespace = current_schema()::regnamespace")) {
      assertTrue(rs.next(), relation);
      return Math.round(rs.getDouble(1));
    }
  }

  private static String indexDef(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT indexdef FROM pg_indexes WHERE indexname = 'usage_records_resource' AND schemaname = current_schema()")) {
      assertTrue(rs.next());
      return rs.getString(1);
    }
  }

  private static UsageRecord record(String eventId, String resourceId) {
    UsageRecord r = LedgerAppendNewTest.record("org_x", eventId);
    r.source = resourceId == null ? UsageRecord.Sources.KELD : UsageRecord.Sources.OTLP;
    r.resourceId = resourceId;
    return r;
  }
}
