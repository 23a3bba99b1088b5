package io.keld.atlas.budget;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import java.time.ZoneId;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;

/**
 * The TeamBudgets entity with an in-memory journal and an injected clock: replies, every command,
 * event and snapshot through the CBOR serializer, recovery, and a roll-over seen by the entity.
 */
class TeamBudgetsEntityTest {

  private static final Config CONFIG = EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.parseString("""
      pekko.loglevel = WARNING
      """)).withFallback(ConfigFactory.load());
  private static final ActorTestKit testKit = ActorTestKit.create(CONFIG);

  private final AtomicLong now = new AtomicLong(Instant.parse("2026-11-30T22:00:00Z").toEpochMilli());
  private final Clock clock = new Clock() {
    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(now.get());
    }
  };
  private final List<List<BudgetEvent>> told = new CopyOnWriteArrayList<>();
  private EventSourcedBehaviorTestKit<TeamBudgets.Command, BudgetEvent, BudgetLedger> kit;

  @BeforeEach
  void setUp() {
    kit = EventSourcedBehaviorTestKit.create(testKit.system(), TeamBudgets.create("team_1", clock, (team, events) -> told.add(events)),
        // The state is the mutable ledger; what is stored is its Snapshot record (checked below).
        EventSourcedBehaviorTestKit.enabledSerializationSettings().withVerifyState(false));
    kit.clear();
  }

  @AfterAll
  static void tearDown() {
    testKit.shutdownTestKit();
  }

  @Test
  void reservesRefusesSettlesAndRecovers() {
    var set = kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.SetBudget("team_1", ScopeKind.TEAM,
        new BudgetSpec(BudgetPeriod.MONTH, 1_000L, 800L, null), r));
    assertInstanceOf(TeamBudgets.Ok.class, set.reply());

    var reserved = kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.Reserve("r1", "prj_1", 900, 90, r));
    TeamBudgets.Ok ok = assertInstanceOf(TeamBudgets.Ok.class, reserved.reply());
    assertEquals("r1", ok.reservation().reservationId());
    assertEquals(900, ok.scopes().get(1).reservedMicroUsd(), "the team scope is answered too");
    assertEquals(2, reserved.events().size(), "reserved, and the soft cap crossed");
    assertTrue(told.stream().flatMap(List::stream).anyMatch(e -> e instanceof BudgetEvent.SoftCapCrossed), "the listener hears the alert");

    var refused = kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.Reserve("r2", "prj_2", 101, 0, r));
    Refusal refusal = assertInstanceOf(TeamBudgets.Refused.class, refused.reply()).refusal();
    assertEquals(1_000, refusal.cap());
    assertTrue(refused.events().isEmpty());

    kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.Settle("r1", 600, 60, r));
    kit.restart();
    var view = kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.GetScope("team_1", r));
    ScopeView team = ((TeamBudgets.Ok) view.reply()).scopes().get(0);
    assertEquals(600, team.spentMicroUsd(), "recovered from the journal");
    assertEquals(0, team.reservedMicroUsd());

    // Two hours later it is December (UTC): the entity sees the new month.
    now.addAndGet(2 * 3_600_000L);
    var december = kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.Reserve("r3", "prj_1", 1_000, 0, r));
    assertInstanceOf(TeamBudgets.Ok.class, december.reply(), "the new month starts with nothing spent");
  }

  @Test
  void theSnapshotSurvivesSerialization() {
    kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.SetBudget("prj_1", ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.DAY, 50L, null, 5L), r));
    kit.<TeamBudgets.Reply>runCommand(r -> new TeamBudgets.Reserve("r1", "prj_1", 10, 1, r));
    BudgetLedger.Snapshot snapshot = kit.getState().snapshot();
    var serialization = new SerializationTestKit(testKit.system());
    assertEquals(snapshot, serialization.verifySerialization(snapshot, true));
  }
}
