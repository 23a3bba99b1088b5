package io.keld.marketplace.book;

import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The bids waiting for an ask (rule 4): by id; in the order asks are offered to them (higher
 * ceiling, then earlier deadline, then arrival); and by escalation point, in a binary heap whose
 * entries know their place, so the earliest is read at once and a bid that fills or is cancelled
 * leaves it in O(log n) without a tree node per bid.
 */
final class RestingBids {

  /** A resting bid; {@code arrivalSeq} breaks ties. Its ranking terms are copied out of the bid, so comparing reads this object only. */
  static final class Entry {
    static final Comparator<Entry> PRIORITY = (x, y) -> {
      int c = Long.compare(y.ceiling, x.ceiling);
      if (c != 0) return c;
      c = Long.compare(x.deadline, y.deadline);
      if (c != 0) return c;
      return Long.compare(x.arrivalSeq, y.arrivalSeq);
    };

    final Bid bid;
    final long arrivalSeq;
    final long restedAtMillis;
    final long ceiling;
    final long deadline;
    final long escalateAt;
    /** Its index in the escalation heap. */
    private int heapIndex;

    Entry(Bid bid, long arrivalSeq, long restedAtMillis) {
      this.bid = bid;
      this.arrivalSeq = arrivalSeq;
      this.restedAtMillis = restedAtMillis;
      this.ceiling = bid.ceilingPerMtok();
      this.deadline = bid.deadlineMillis();
      this.escalateAt = bid.escalateAtMillis();
    }

    /** Escalation order: earlier escalation point, then arrival. */
    boolean escalatesBefore(Entry o) {
      return escalateAt != o.escalateAt ? escalateAt < o.escalateAt : arrivalSeq < o.arrivalSeq;
    }
  }

  private final Map<String, Entry> byId = new HashMap<>();
  private final TreeSet<Entry> byPriority = new TreeSet<>(Entry.PRIORITY);
  /** byPriority's first, kept at hand: every changed ask is offered to it first, and mostly it cannot afford the ask. */
  private Entry first;
  private Entry[] heap = new Entry[16];
  private int heapSize;

  int size() {
    return byId.size();
  }

  boolean isEmpty() {
    return heapSize == 0;
  }

  boolean contains(String bidId) {
    return byId.containsKey(bidId);
  }

  Entry get(String bidId) {
    return byId.get(bidId);
  }

  Collection<Entry> entries() {
    return byId.values();
  }

  /** The first bid an ask is offered to, or null. */
  Entry first() {
    return first;
  }

  /** The bid offered an ask after {@code e}, whether or not {@code e} still rests. */
  Entry next(Entry e) {
    return byPriority.higher(e);
  }

  /** The bid whose escalation point comes first, or null. */
  Entry earliest() {
    return heapSize == 0 ? null : heap[0];
  }

  void add(Entry e) {
    byId.put(e.bid.bidId(), e);
    byPriority.add(e);
    if (first == null || Entry.PRIORITY.compare(e, first) < 0) first = e;
    if (heapSize == heap.length) heap = Arrays.copyOf(heap, heapSize * 2);
    heap[heapSize] = e;
    e.heapIndex = heapSize++;
    siftUp(e.heapIndex);
  }

  /** Takes the bid off; its entry, or null when it was not resting. */
  Entry remove(String bidId) {
    Entry e = byId.remove(bidId);
    if (e != null) unorder(e);
    return e;
  }

  /** Takes off a bid known to rest. */
  void remove(Entry e) {
    byId.remove(e.bid.bidId());
    unorder(e);
  }

  private void unorder(Entry e) {
    byPriority.remove(e);
    if (e == first) first = byPriority.isEmpty() ? null : byPriority.first();
    int at = e.heapIndex;
    Entry last = heap[--heapSize];
    heap[heapSize] = null;
    if (at < heapSize) {
      heap[at] = last;
      last.heapIndex = at;
      siftUp(at);
      siftDown(last.heapIndex);
    }
    e.heapIndex = -1;
  }

  private void siftUp(int at) {
    Entry e = heap[at];
    while (at > 0) {
      int parent = (at - 1) >>> 1;
      Entry p = heap[parent];
      if (!e.escalatesBefore(p)) break;
      heap[at] = p;
      p.heapIndex = at;
      at = parent;
    }
    heap[at] = e;
    e.heapIndex = at;
  }

  private void siftDown(int at) {
    Entry e = heap[at];
    int half = heapSize >>> 1;
    while (at < half) {
      int child = 2 * at + 1;
      Entry c = heap[child];
      int right = child + 1;
      if (right < heapSize && heap[right].escalatesBefore(c)) c = heap[child = right];
      if (!c.escalatesBefore(e)) break;
      heap[at] = c;
      c.heapIndex = at;
      at = child;
    }
    heap[at] = e;
    e.heapIndex = at;
  }
}
