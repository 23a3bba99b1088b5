package io.keld.flow.pacing;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pipeline's decisions with time passed in: order, admission, limits, withdrawal. */
class LaneSchedulerTest {

  private static final long MS = 1_000_000;
  private final List<LaneScheduler.Batch<String>> admitted = new ArrayList<>();

  private LaneScheduler<String> scheduler(int concurrency, long tokensPerSecond) {
    return new LaneScheduler<>(new Capacity(concurrency, tokensPerSecond), 1_000 * MS, 0, admitted::add);
  }

  private static LaneScheduler.Batch<String> batch(Object owner, long deadline, String... names) {
    List<Ticket<String>> tickets = new ArrayList<>();
    for (String n : names) tickets.add(new Ticket<>(n, owner, deadline, 100));
    return new LaneScheduler.Batch<>(owner, deadline, tickets, null);
  }

  private static List<String> drain(LaneScheduler<String> s, long now) {
    List<String> sent = new ArrayList<>();
    for (Ticket<String> t = s.poll(now); t != null; t = s.poll(now)) sent.add(t.payload());
    return sent;
  }

  @Test
  void theEarliestDeadlineIsSentFirstAcrossJobs() {
    LaneScheduler<String> s = scheduler(10, 0);
    s.offer(batch("late", 9_000 * MS, "l1", "l2"), 0);
    s.offer(batch("soon", 1_000 * MS, "s1", "s2"), 0);
    assertEquals(List.of("s1", "s2", "l1", "l2"), drain(s, 0));
  }

  @Test
  void noMoreThanTheLimitIsInFlightAndAnswersFreeSlots() {
    LaneScheduler<String> s = scheduler(2, 0);
    s.offer(batch("a", 9_000 * MS, "1", "2", "3"), 0);
    List<Ticket<String>> sent = new ArrayList<>();
    for (Ticket<String> t = s.poll(0); t != null; t = s.poll(0)) sent.add(t);
    assertEquals(2, sent.size());
    assertEquals(2, s.inFlight());
    s.answered(sent.get(0), 10 * MS);
    assertEquals("3", s.poll(10 * MS).payload());
    assertNull(s.poll(10 * MS));
  }

  @Test
  void aBatchWaitsUntilItFitsBesideHalfARoundOfQueuedWork() {
    LaneScheduler<String> s = scheduler(4, 0);
    s.offer(batch("a", 9_000 * MS, "1", "2"), 0);
    s.offer(batch("a", 9_000 * MS, "3", "4"), 0);
    assertEquals(1, admitted.size(), "the second batch waits: two are queued, half the limit is two");
    assertEquals(2, s.snapshot().waitingItems());
    drain(s, 0); // 1 and 2 go out; the queue is empty, so the second batch is admitted
    assertEquals(2, admitted.size());
  }

  @Test
  void theTokenBucketPacesByEstimatedTokens() {
    LaneScheduler<String> s = scheduler(100, 1_000); // 1,000 tokens/s, half a second of burst
    s.offer(batch("a", 9_000 * MS, "1", "2", "3", "4", "5", "6", "7", "8"), 0);
    assertEquals(5, drain(s, 0).size(), "500 tokens of burst");
    assertEquals(1 * MS, s.wakeAt(0), "a take needs something left: one token, a millisecond away");
    assertEquals(1, drain(s, 1 * MS).size(), "one item goes on one token, into debt");
    assertEquals(101 * MS, s.wakeAt(1 * MS), "the debt of 99 and one more token take 0.1 s");
    assertEquals(0, drain(s, 100 * MS).size());
    assertEquals(1, drain(s, 101 * MS).size());
  }

  @Test
  void anItemWithAHugeEstimateCostsAtMostOneBurstOfDebt() {
    LaneScheduler<String> s = scheduler(100, 1_000); // 500 tokens of burst
    List<Ticket<String>> tickets = new ArrayList<>();
    tickets.add(new Ticket<>("huge", "a", 9_000 * MS, 10_000_000)); // max_tokens of ten million
    tickets.add(new Ticket<>("next", "a", 9_000 * MS, 10));
    s.offer(new LaneScheduler.Batch<>("a", 9_000 * MS, tickets, null), 0);
    assertEquals("huge", s.poll(0).payload());
    assertTrue(s.wakeAt(0) <= 1_001 * MS, "the next item waits about a second, not hours: " + s.wakeAt(0));
  }

  @Test
  void aWaveOfOverloadSignalsCutsTheLimitOnceThenItHoldsAndRecovers() {
    LaneScheduler<String> s = scheduler(10, 0);
    s.capacity(new Capacity(10, 0), 0);
    List<Ticket<String>> sent = new ArrayList<>();
    s.offer(batch("a", 99_000 * MS, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"), 0);
    for (Ticket<String> t = s.poll(0); t != null; t = s.poll(0)) sent.add(t);
    for (Ticket<String> t : sent) s.failed(t, true, 5 * MS);
    assertEquals(7, s.limit(), "one cut for the whole wave");
    // Answers right after the cut do not grow it (the hold)...
    for (int i = 0; i < 20; i++) {
      s.retryAt(sent.get(i % 10), 0, 6 * MS);
      Ticket<String> t = s.poll(6 * MS);
      s.answered(t, 10 * MS);
    }
    assertEquals(7, s.limit());
    // ...answers after the hold grow it by one per window while the endpoint is busy.
    growBusy(s, sent, 2_000 * MS);
    assertTrue(s.limit() > 7, "recovered to " + s.limit());
    assertTrue(s.limit() <= 10, "never above the stated concurrency");
  }

  @Test
  void aStatedIncreaseIsTakenAtOnceAndWithdrawalTakesOnlyTheOwnersQueuedWork() {
    LaneScheduler<String> s = scheduler(2, 0);
    s.capacity(new Capacity(8, 0), 0);
    assertEquals(8, s.limit());
    Object mine = "mine";
    s.offer(batch(mine, 9_000 * MS, "m1", "m2", "m3"), 0);
    s.offer(batch("other", 9_000 * MS, "o1"), 0);
    Ticket<String> first = s.poll(0);
    LaneScheduler.Withdrawn<String> w = s.withdraw(mine, 0);
    assertEquals("m1", first.payload());
    assertEquals(List.of("m2", "m3"), w.queued().stream().map(Ticket::payload).toList());
    assertEquals(List.of("o1"), drain(s, 0));
  }

  @Test
  void aTicketQueuedWithoutItsBatchsAdmissionWaitsFromWhenItWasQueued() {
    // A job's batch still waiting on one endpoint moves to another: its tickets are queued there
    // directly. Their queueing delay runs from then, and a retry keeps the first admission.
    LaneScheduler<String> s = scheduler(4, 0);
    Ticket<String> moved = new Ticket<>("moved", "a", 9_000 * MS, 100);
    s.enqueue(List.of(moved), 0, 5_000 * MS);
    Ticket<String> sent = s.poll(5_200 * MS);
    assertSame(moved, sent);
    assertEquals(200 * MS, sent.sentAt() - sent.admittedAt());
    s.failed(sent, false, 5_300 * MS);
    s.retryAt(sent, 5_400 * MS, 5_300 * MS);
    assertEquals(5_000 * MS, s.poll(5_400 * MS).admittedAt(), "a retry keeps the first admission");
  }

  private static void growBusy(LaneScheduler<String> s, List<Ticket<String>> pool, long now) {
    for (int round = 0; round < 50; round++) {
      List<Ticket<String>> out = new ArrayList<>();
      for (int i = 0; i < s.limit(); i++) {
        s.retryAt(pool.get(i % pool.size()), now, now);
        Ticket<String> t = s.poll(now);
        if (t != null) out.add(t);
      }
      now += 10 * MS;
      for (Ticket<String> t : out) s.answered(t, now);
    }
  }
}
