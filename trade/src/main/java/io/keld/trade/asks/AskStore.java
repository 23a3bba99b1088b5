package io.keld.trade.asks;

import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/** The provider's index of its asks ({@code trade_asks}): what "list my asks" and ownership checks read. */
public final class AskStore {

  private final Sql sql;

  public AskStore(Sql sql) {
    this.sql = sql;
  }

  public CompletionStage<ProviderAsk> insert(ProviderAsk a) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_asks (id, org_id, use_case, model, price_per_mtok, quality, "
          + "throughput_tps, max_concurrency, region, cancel_on_disconnect, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        Sql.bind(ps, a.id(), a.orgId(), a.useCase(), a.model(), a.pricePerMtok(), a.quality(), a.throughputTps(), a.maxConcurrency(),
            a.region(), a.cancelOnDisconnect(), a.state(), a.createdAt(), a.updatedAt());
        ps.executeUpdate();
      }
      return a;
    });
  }

  public CompletionStage<Void> delete(String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM trade_asks WHERE id = ?")) {
        ps.setString(1, id);
        ps.executeUpdate();
      }
      return null;
    });
  }

  /**
   * Changes to open asks, in order, in one transaction: each change sets only the columns it names
   * (or withdraws its ask), and only while its ask is open, so an amend that finishes after a
   * withdraw cannot change or reopen it. Answers the changed asks as they stand once the transaction commits (by id); an ask that
   * was not open is absent. The rows are written in id order (a change's place among the changes
   * to the same ask is kept), so two nodes' batches never wait on each other's rows in a cycle.
   */
  public CompletionStage<Map<String, ProviderAsk>> updateTerms(List<AskTermsChange> changes) {
    List<AskTermsChange> inIdOrder = new ArrayList<>(changes);
    inIdOrder.sort(Comparator.comparing(AskTermsChange::askId)); // stable: each ask's changes stay in order
    return sql.transaction(c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE trade_asks SET price_per_mtok = COALESCE(?, price_per_mtok), "
          + "quality = COALESCE(?, quality), throughput_tps = COALESCE(?, throughput_tps), max_concurrency = COALESCE(?, max_concurrency), "
          + "state = CASE WHEN ? THEN 'withdrawn' ELSE state END, updated_at = ? WHERE id = ? AND state = 'open'")) {
        for (AskTermsChange ch : inIdOrder) {
          ps.setObject(1, ch.pricePerMtok(), Types.BIGINT);
          ps.setObject(2, ch.quality(), Types.INTEGER);
          ps.setObject(3, ch.throughputTps(), Types.BIGINT);
          ps.setObject(4, ch.maxConcurrency(), Types.INTEGER);
          ps.setBoolean(5, ch.withdrawal());
          ps.setTimestamp(6, Timestamp.from(ch.at()));
          ps.setString(7, ch.askId());
          ps.addBatch();
        }
        ps.executeBatch();
      }
      List<String> ids = inIdOrder.stream().map(AskTermsChange::askId).distinct().toList();
      Map<String, ProviderAsk> open = new HashMap<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_asks WHERE state = 'open' AND id IN ("
          + String.join(", ", Collections.nCopies(ids.size(), "?")) + ")")) {
        Sql.bind(ps, ids.toArray());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            ProviderAsk a = read(rs);
            open.put(a.id(), a);
          }
        }
      }
      return open;
    });
  }

  /** The ask if it belongs to {@code orgId}; someone else's ask is as absent as one that never existed. */
  public CompletionStage<Optional<ProviderAsk>> find(String orgId, String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_asks WHERE org_id = ? AND id = ?")) {
        Sql.bind(ps, orgId, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(read(rs)) : Optional.<ProviderAsk>empty();
        }
      }
    });
  }

  /** An organization's asks, newest first; {@code state} null for all. */
  public CompletionStage<List<ProviderAsk>> list(String orgId, String state, int limit) {
    return sql.run(c -> {
      String where = state == null ? "" : " AND state = ?";
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM trade_asks WHERE org_id = ?" + where + " ORDER BY created_at DESC, id LIMIT " + limit)) {
        if (state == null) Sql.bind(ps, orgId);
        else Sql.bind(ps, orgId, state);
        List<ProviderAsk> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(read(rs));
        }
        return out;
      }
    });
  }

  private static ProviderAsk read(ResultSet rs) throws SQLException {
    Instant created = Sql.instant(rs, "created_at");
    return new ProviderAsk(rs.getString("id"), rs.getString("org_id"), rs.getString("use_case"), rs.getString("model"),
        rs.getLong("price_per_mtok"), rs.getInt("quality"), rs.getLong("throughput_tps"), rs.getInt("max_concurrency"),
        rs.getString("region"), rs.getBoolean("cancel_on_disconnect"), rs.getString("state"), created, Sql.instant(rs, "updated_at"));
  }
}
