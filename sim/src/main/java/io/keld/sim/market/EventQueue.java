package io.keld.sim.market;

import java.util.PriorityQueue;

/** Simulated time: events in time order, ties in the order they were scheduled, so a run is reproducible. */
final class EventQueue {

  record Event(long atMillis, long seq, Object what) {}

  private final PriorityQueue<Event> queue = new PriorityQueue<>((a, b) -> {
    int c = Long.compare(a.atMillis(), b.atMillis());
    return c != 0 ? c : Long.compare(a.seq(), b.seq());
  });
  private long seq;

  void at(long atMillis, Object what) {
    queue.add(new Event(atMillis, seq++, what));
  }

  Event next() {
    return queue.poll();
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }
}
