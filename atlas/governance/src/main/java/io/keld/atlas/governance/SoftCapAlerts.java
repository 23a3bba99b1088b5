package io.keld.atlas.governance;

import io.keld.atlas.budget.BudgetEvent;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.apache.pekko.persistence.query.EventEnvelope;

/**
 * A budget's soft cap crossed, in its organization's audit log ({@code budget.soft_cap_crossed}): a
 * projection of the budgets' {@link BudgetEvent.SoftCapCrossed} events ({@link BudgetEvent#ALERTS_TAG}),
 * so an alert is not lost when a node dies right after the budget recorded it. Each row names its
 * event ({@code source_event}: persistence id and sequence number), so the same event applied again
 * writes nothing. A rebuild deletes nothing (an audit log keeps its rows): it replays every alert and
 * writes the ones missing.
 */
public final class SoftCapAlerts {

  private SoftCapAlerts() {}

  public static final TagProjection.Spec SPEC = new TagProjection.Spec("budget-alerts", BudgetEvent.ALERTS_TAG, List.of());

  private static final String PERSISTENCE_ID_PREFIX = TeamBudgets.ENTITY_KEY.name() + "|";

  static void apply(Connection c, List<EventEnvelope> batch) throws SQLException {
    try (PreparedStatement insert = c.prepareStatement("INSERT INTO atlas_audit_log (at, org_id, key_id, action, target, outcome, status, "
        + "detail, source_event) SELECT ?, (SELECT org_id FROM atlas_teams WHERE id = ?), NULL, 'budget.soft_cap_crossed', ?, 'alert', 200, "
        + "?, ? WHERE NOT EXISTS (SELECT 1 FROM atlas_audit_log WHERE source_event = ?)")) {
      int alerts = 0;
      for (EventEnvelope e : batch) {
        if (!(e.event() instanceof BudgetEvent.SoftCapCrossed crossed) || !e.persistenceId().startsWith(PERSISTENCE_ID_PREFIX)) continue;
        String teamId = e.persistenceId().substring(PERSISTENCE_ID_PREFIX.length());
        String source = e.persistenceId() + "#" + e.sequenceNr();
        Sql.bind(insert, Instant.ofEpochMilli(crossed.at()), teamId, crossed.scopeId(),
            "committed " + crossed.committedMicroUsd() + " of soft cap " + crossed.softCapMicroUsd() + " micro-USD", source, source);
        insert.addBatch();
        alerts++;
      }
      if (alerts > 0) insert.executeBatch();
    }
  }
}
