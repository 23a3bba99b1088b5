package io.keld.atlas.governance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.typesafe.config.Config;
import io.keld.atlas.budget.BudgetEvent;
import io.keld.atlas.budget.BudgetPeriod;
import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.kit.CacheSettings;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;

/**
 * A budget's soft cap crossed reaches the organization's audit log from the journal: a node that dies
 * after the budget recorded it and before the row was written loses no alert, and the same event
 * applied again (or a rebuild from offset zero) writes no second row.
 */
class SoftCapAlertsTest {

  static final Duration WAIT = Duration.ofSeconds(60);

  record Started(ModuleNode module, Governance governance, TagProjection alerts) {
    void stop() {
      module.stop();
    }
  }

  static Started start(Config config, boolean runProjection) {
    ModuleNode module = ModuleNode.start(config);
    Governance governance = Governance.start(module.system(), module.dataSource(), module.blocking(), Clock.systemUTC(), module.metrics(),
        config.getDuration("keld.atlas.budget-timeout"), CacheSettings.of(config.getConfig("keld.atlas"), "project"));
    TagProjection alerts = governance.softCapAlertProjection(module.system());
    if (runProjection) alerts.start();
    module.onStop("keld-stop-alerts", alerts::stop);
    return new Started(module, governance, alerts);
  }

  /** The soft-cap rows of the audit log: organization, target and detail. */
  static List<String> alertRows(TestDatabase db) throws SQLException {
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT org_id, target, detail FROM atlas_audit_log WHERE action = 'budget.soft_cap_crossed' "
            + "ORDER BY id");
        ResultSet rs = ps.executeQuery()) {
      List<String> rows = new java.util.ArrayList<>();
      while (rs.next()) rows.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3));
      return rows;
    }
  }

  static List<String> awaitAlerts(TestDatabase db, int n) throws Exception {
    long end = System.nanoTime() + WAIT.toNanos();
    List<String> rows = alertRows(db);
    while (rows.size() < n) {
      if (System.nanoTime() > end) throw new AssertionError("the audit log has " + rows + ", not " + n + " alerts");
      Thread.sleep(100);
      rows = alertRows(db);
    }
    return rows;
  }

  @Test
  void anAlertRecordedBeforeTheNodeDiedReachesTheAuditLogOnce() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      Config config = ModuleNode.config(db);
      // The alert's read side never runs on this node: the budget records the crossing and the node dies.
      Started node = start(config, false);
      Organization org = node.governance().tenancy().createOrganization("Alerted", OrgKind.ENTERPRISE).toCompletableFuture().get(10, TimeUnit.SECONDS);
      Team team = node.governance().tenancy().createTeam(org.id(), "spenders").toCompletableFuture().get(10, TimeUnit.SECONDS);
      Project project = node.governance().tenancy().createProject(team, "p").toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertInstanceOf(TeamBudgets.Ok.class, node.governance().budgets()
          .setBudget(team.id(), team.id(), ScopeKind.TEAM, new BudgetSpec(BudgetPeriod.MONTH, null, 1_000L, null))
          .toCompletableFuture().get(10, TimeUnit.SECONDS));
      assertInstanceOf(TeamBudgets.Ok.class, node.governance().budgets().reserve(team.id(), project.id(), "r1", 2_000, 10)
          .toCompletableFuture().get(10, TimeUnit.SECONDS));
      node.stop();
      assertEquals(List.of(), alertRows(db), "nothing was written before the node died");

      node = start(config, true);
      try {
        List<String> rows = awaitAlerts(db, 1);
        assertEquals(List.of(org.id() + " " + team.id() + " committed 2000 of soft cap 1000 micro-USD"), rows);
        Thread.sleep(1_500);
        assertEquals(rows, alertRows(db), "one alert, once");

        // The same events applied again, outside the projection's offset: nothing more.
        CurrentEventsByTagQuery journal = PersistenceQuery.get(node.module().system())
            .getReadJournalFor(CurrentEventsByTagQuery.class, "jdbc-read-journal");
        List<EventEnvelope> events = journal.currentEventsByTag(BudgetEvent.ALERTS_TAG, Offset.noOffset())
            .runWith(Sink.seq(), node.module().system()).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(1, events.size(), "only the crossing is tagged, not the budget set or the reservation");
        new Sql(node.module().dataSource(), node.module().blocking()).transaction(c -> {
          SoftCapAlerts.apply(c, events);
          return null;
        }).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(rows, alertRows(db));

        // A rebuild replays every alert from offset zero and writes none twice.
        long offset;
        try (Connection c = db.connect()) {
          offset = TagProjection.storedOffset(c, SoftCapAlerts.SPEC.name());
          TagProjection.rebuild(c, SoftCapAlerts.SPEC);
        }
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
          try (Connection c = db.connect()) {
            if (TagProjection.storedOffset(c, SoftCapAlerts.SPEC.name()) == offset) break;
          }
          if (System.nanoTime() > end) throw new AssertionError("the alerts projection did not come back to offset " + offset);
          Thread.sleep(100);
        }
        assertEquals(rows, alertRows(db));
      } finally {
        node.stop();
      }
    }
  }
}
