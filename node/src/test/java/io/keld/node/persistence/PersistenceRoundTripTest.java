package io.keld.node.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.keld.node.KeldNode;
import io.keld.testkit.Tally;
import io.keld.testkit.TestDatabase;
import io.keld.node.testing.TestNodes;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persist through a sharded event-sourced entity, stop the node, start a new one on the same
 * database: the state is recovered from the journal. Once on the embedded H2, once on PostgreSQL.
 */
class PersistenceRoundTripTest {

  @TempDir Path tmp;

  @Test
  void stateSurvivesARestartOnH2() throws Exception {
    try (TestDatabase db = TestDatabase.h2(tmp)) {
      roundTrip(db);
    }
  }

  @Test
  void stateSurvivesARestartOnPostgres() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      roundTrip(db);
    }
  }

  private static void roundTrip(TestDatabase db) throws Exception {
    KeldNode first = TestNodes.startReady(TestNodes.config(db, null));
    try {
      Tally.init(first.system());
      assertEquals(5, add(first, "acme", 5).total());
      assertEquals(12, add(first, "acme", 7).total());
      assertEquals(1, add(first, "globex", 1).total());
    } finally {
      first.stop();
    }

    // The events are in the journal table the migrations created, not in memory.
    try (Connection c = db.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM event_journal WHERE persistence_id = 'Tally|acme'")) {
      rs.next();
      assertEquals(2, rs.getLong(1));
    }

    KeldNode second = TestNodes.startReady(TestNodes.config(db, null));
    try {
      Tally.init(second.system());
      Tally.State acme = get(second, "acme");
      assertEquals(new Tally.State(12, 2), acme);
      assertEquals(new Tally.State(1, 1), get(second, "globex"));
      assertEquals(15, add(second, "acme", 3).total());
    } finally {
      second.stop();
    }
  }

  static Tally.State add(KeldNode node, String id, long amount) throws Exception {
    return ref(node, id).<Tally.State>ask(r -> new Tally.Add(amount, r), Duration.ofSeconds(15)).toCompletableFuture().get();
  }

  static Tally.State get(KeldNode node, String id) throws Exception {
    return ref(node, id).<Tally.State>ask(Tally.Get::new, Duration.ofSeconds(15)).toCompletableFuture().get();
  }

  private static EntityRef<Tally.Command> ref(KeldNode node, String id) {
    return ClusterSharding.get(node.system()).entityRefFor(Tally.KEY, id);
  }

}
