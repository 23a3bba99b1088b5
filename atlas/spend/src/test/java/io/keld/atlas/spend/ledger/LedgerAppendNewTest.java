package io.keld.atlas.spend.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.keld.kit.sql.Sql;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Ledger#appendNewInTransaction} skips the duplicate check for records its caller knows are
 * new. It must write them as the checked append does (rows and rollups), and a record that is there
 * after all must fail the transaction, never be counted twice.
 */
class LedgerAppendNewTest {

  @TempDir Path dir;

  @Test
  void onPostgres() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      appendsLikeTheCheckedAppendAndRefusesADuplicate(db);
    }
  }

  @Test
  void onH2() throws Exception {
    try (TestDatabase db = TestDatabase.h2(dir)) {
      appendsLikeTheCheckedAppendAndRefusesADuplicate(db);
    }
  }

  private static void appendsLikeTheCheckedAppendAndRefusesADuplicate(TestDatabase db) throws Exception {
    ModuleNode node = ModuleNode.start(ModuleNode.config(db));
    try {
      Ledger ledger = new Ledger(new Sql(node.dataSource(), node.blocking()), Clock.systemUTC());
      try (Connection c = db.connect()) {
        // The same three records, one org through each path: the rows and rollups must match.
        Sql.inTransaction(c, tx -> ledger.appendInTransaction(tx, List.of(record("org_checked", "e1"), record("org_checked", "e2"),
            record("org_checked", "e3"))));
        Ledger.Appended appended = Sql.inTransaction(c, tx -> ledger.appendNewInTransaction(tx, List.of(record("org_new", "e1"),
            record("org_new", "e2"), record("org_new", "e3"), record("org_new", "e3"))));
        assertEquals(new Ledger.Appended(3, 1), appended, "a record given twice is written once");
        assertEquals(sums(c, "usage_records", "org_checked"), sums(c, "usage_records", "org_new"));
        assertEquals(sums(c, "usage_rollup_hourly", "org_checked"), sums(c, "usage_rollup_hourly", "org_new"));
        assertEquals(sums(c, "usage_rollup_daily", "org_checked"), sums(c, "usage_rollup_daily", "org_new"));
        assertEquals(List.of(3L, 3 * 1_234L), sums(c, "usage_records", "org_new"));

        // One record already there: the whole transaction fails, nothing of it stays.
        assertThrows(SQLException.class, () -> Sql.inTransaction(c, tx -> ledger.appendNewInTransaction(tx,
            List.of(record("org_new", "e4"), record("org_new", "e2")))));
        assertEquals(List.of(3L, 3 * 1_234L), sums(c, "usage_records", "org_new"));
        assertEquals(List.of(3L, 3 * 1_234L), sums(c, "usage_rollup_hourly", "org_new"));
      }
    } finally {
      node.stop();
    }
  }

  /** A priced record of a job's usage (no OpenTelemetry resource); other ledger tests start from it too. */
  static UsageRecord record(String org, String eventId) {
    UsageRecord r = new UsageRecord();
    r.orgId = org;
    r.source = UsageRecord.Sources.KELD;
    r.sourceEventId = eventId;
    r.teamId = "team_x";
    r.projectId = "prj_x";
    r.periodStart = Instant.parse("2026-12-06T10:15:30.123456Z");
    r.periodEnd = r.periodStart.plusMillis(200);
    r.granularity = "job";
    r.requestCount = 1;
    r.provider = "prv_x";
    r.modelServed = "m-x";
    r.operation = "chat";
    r.inputTokens = 10;
    r.outputTokens = 20;
    r.costMicroUsd = 1_234L;
    r.listCostMicroUsd = 1_500L;
    r.costSource = UsageRecord.CostSources.PROVIDER;
    r.jobCategory = "chat";
    r.spendClass = "opex";
    return r;
  }

  /** Records and cost of an org in {@code table} (rollups count records in a column of that name). */
  private static List<Long> sums(Connection c, String table, String org) throws SQLException {
    String records = table.equals("usage_records") ? "count(*)" : "coalesce(sum(records), 0)";
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT " + records + ", coalesce(sum(cost_micro_usd), 0) FROM " + table + " WHERE org_id = '" + org + "'")) {
      rs.next();
      return List.of(rs.getLong(1), rs.getLong(2));
    }
  }
}
