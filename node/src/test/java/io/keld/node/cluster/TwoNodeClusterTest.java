package io.keld.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.node.KeldNode;
import io.keld.testkit.Tally;
import io.keld.testkit.TestDatabase;
import io.keld.node.testing.TestNodes;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes in one JVM share a database. An entity created while only the first node is up lives
 * there; when that node leaves the cluster, the entity is started on the other node from the
 * journal, with its state.
 */
class TwoNodeClusterTest {

  @TempDir Path tmp;

  @Test
  void anEntityOfALeavingNodeIsRecoveredOnTheOther() throws Exception {
    try (TestDatabase db = TestDatabase.h2(tmp)) {
      KeldNode a = TestNodes.startReady(TestNodes.config(db, null));
      KeldNode b = null;
      try {
        Tally.init(a.system());
        ClusterSharding.get(a.system()).entityRefFor(Tally.KEY, "acme")
            .<Tally.State>ask(r -> new Tally.Add(40, r), Duration.ofSeconds(15)).toCompletableFuture().get();

        b = TestNodes.startReady(TestNodes.config(db, List.of(a.clusterAddress().toString())));
        Tally.init(b.system());
        awaitUpMembers(b, 2);

        a.stop();
        assertTrue(a.system().getWhenTerminated().toCompletableFuture().isDone(), "the first node has stopped");

        Tally.State recovered = askUntilAnswered(b, "acme", Duration.ofSeconds(45));
        assertEquals(new Tally.State(40, 1), recovered);
        assertEquals(1, upMembers(b), "only the second node remains in the cluster");
        Tally.State after = ClusterSharding.get(b.system()).entityRefFor(Tally.KEY, "acme")
            .<Tally.State>ask(r -> new Tally.Add(2, r), Duration.ofSeconds(15)).toCompletableFuture().get();
        assertEquals(42, after.total());
      } finally {
        if (b != null) b.stop();
        a.stop();
      }
    }
  }

  private static void awaitUpMembers(KeldNode node, int expected) throws InterruptedException {
    Instant giveUp = Instant.now().plusSeconds(30);
    while (upMembers(node) != expected && Instant.now().isBefore(giveUp)) Thread.sleep(100);
    assertEquals(expected, upMembers(node), "members Up");
  }

  private static int upMembers(KeldNode node) {
    int up = 0;
    for (var m : Cluster.get(node.system()).state().getMembers()) if (m.status() == MemberStatus.up()) up++;
    return up;
  }

  /** While shards move, a message may be lost in hand-over; ask again until the new home answers. */
  private static Tally.State askUntilAnswered(KeldNode node, String id, Duration patience) throws Exception {
    Instant giveUp = Instant.now().plus(patience);
    Exception last = null;
    while (Instant.now().isBefore(giveUp)) {
      try {
        return ClusterSharding.get(node.system()).entityRefFor(Tally.KEY, id)
            .<Tally.State>ask(Tally.Get::new, Duration.ofSeconds(5)).toCompletableFuture().get();
      } catch (Exception e) {
        last = e;
      }
    }
    throw new AssertionError("the entity was not recovered on the remaining node within " + patience, last);
  }
}
