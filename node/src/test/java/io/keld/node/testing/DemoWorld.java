package io.keld.node.testing;

import io.keld.node.KeldNode;
import io.keld.testkit.TestDatabase;
import io.keld.node.demo.DemoFleets;
import io.keld.node.demo.DemoTenancy;
import java.io.IOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.opentest4j.TestAbortedException;
import io.keld.sim.SimulatedProvider;

/**
 * A node as {@code keld start --demo} runs it: the demo provider fleets (simulated, over real HTTP,
 * posting asks) and the demo enterprise with its keys. On PostgreSQL when one answers; outside CI,
 * on H2 when none does (under {@code CI=true} no PostgreSQL fails, as {@link TestDatabase} does).
 */
public final class DemoWorld implements AutoCloseable {

  public final TestDatabase db;
  public final KeldNode node;
  public final DemoFleets fleets;
  public final DemoTenancy.Created tenancy;
  public final String baseUrl;

  private DemoWorld(TestDatabase db, KeldNode node, DemoFleets fleets, DemoTenancy.Created tenancy) {
    this.db = db;
    this.node = node;
    this.fleets = fleets;
    this.tenancy = tenancy;
    this.baseUrl = "http://127.0.0.1:" + node.httpAddress().getPort();
  }

  public static DemoWorld start() throws Exception {
    TestDatabase db = database();
    KeldNode node = null;
    try {
      node = TestNodes.startReady(TestNodes.config(db, null));
      DemoFleets fleets = DemoFleets.start(node);
      return new DemoWorld(db, node, fleets, DemoTenancy.create(node.governance()));
    } catch (Exception | Error e) {
      if (node != null) node.stop();
      db.close();
      throw e;
    }
  }

  /** The demo fleet of a provider, to change its capacity or faults. */
  public SimulatedProvider fleet(String providerId) {
    return fleets.running().stream().filter(r -> r.fleet().name().equals(providerId)).findFirst().orElseThrow().fleet();
  }

  /**
   * Waits until the job projection has applied every job event the journal holds now: the job index
   * and the deadline jobs' usage rows are written from the journal, a little after the events.
   */
  public void awaitJobsProjected() throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    try (Connection c = db.connect();
        PreparedStatement last = c.prepareStatement("SELECT max(event_id) FROM event_tag WHERE tag = 'jobs'");
        PreparedStatement offset = c.prepareStatement("SELECT journal_offset FROM projection_offsets WHERE projection_name = 'jobs'")) {
      long ordering;
      try (ResultSet rs = last.executeQuery()) {
        rs.next();
        ordering = rs.getLong(1);
      }
      while (true) {
        try (ResultSet rs = offset.executeQuery()) {
          if (rs.next() && rs.getLong(1) >= ordering) return;
        }
        if (System.nanoTime() > end) throw new AssertionError("the job projection has not reached journal ordering " + ordering + " in 30 s");
        Thread.sleep(50);
      }
    }
  }

  @Override
  public void close() throws Exception {
    try {
      for (DemoFleets.Running r : fleets.running()) {
        try {
          r.fleet().close();
        } catch (RuntimeException e) {
          System.out.println("closing demo fleet " + r.fleet().name() + " failed: " + e);
        }
      }
    } finally {
      try {
        node.stop();
        node.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } finally {
        db.close();
      }
    }
  }

  private static TestDatabase database() throws IOException {
    try {
      return TestDatabase.postgres();
    } catch (TestAbortedException noPostgres) {
      System.out.println("DemoWorld: on H2, since " + noPostgres.getMessage());
      return TestDatabase.h2(Files.createTempDirectory("keld-demo-world"));
    }
  }
}
