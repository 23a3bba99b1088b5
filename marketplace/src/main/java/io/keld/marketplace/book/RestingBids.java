package io.keld.marketplace.book;

import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;

/**
 * The bids waiting for an ask (rule 4): by id; in the order asks are offered to them (higher
 * ceiling, then earlier deadline, then arrival), in a sorted array with the ceilings beside it; and by
 * escalation point, in a binary heap whose entries know their place, so the earliest is read at once
 * and a bid that fills or is cancelled leaves it in O(log n) without a tree node per bid.
 *
 * <p>The offer order was a {@code TreeSet}: a node per bid, and a rebalanced path of far-apart nodes
 * read and written on every bid that rested or left (book-core-peers: about a tenth of the shared
 * stream's time). A search of the array halves the ceilings without reading a bid, and a bid resting
 * or leaving moves the entries after it by one: a few hundred bytes of copying for a book of a few
 * hundred resting bids.
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
    /** Where it stood in the offer order when last placed or found there (a hint, as in {@link PriceLadder}). */
    private int orderIndexHint;

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
  /** The offer order, in the first {@code orderSize} places, and each one's ceiling beside it. */
  private Entry[] order = new Entry[16];
  private long[] orderCeilings = new long[16];
  private int orderSize;
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
    return orderSize == 0 ? null : order[0];
  }

  /** The bid offered an ask after {@code e}, whether or not {@code e} still rests. */
  Entry next(Entry e) {
    int hint = e.orderIndexHint;
    int at = hint < orderSize && order[hint] == e ? hint + 1 : after(e);
    return at < orderSize ? order[at] : null;
  }

  /** The place of the first entry offered after {@code e} (e itself need not rest). */
  private int after(Entry e) {
    int at = search(e);
    return at < 0 ? -at - 1 : at + 1;
  }

  /** Binary search of the offer order: {@code e}'s index, or -(insertion point) - 1. */
  private int search(Entry e) {
    long ceiling = e.ceiling;
    int lo = 0;
    int hi = orderSize - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long c = orderCeilings[mid];
      // Higher ceilings first; an entry is read only among equal ceilings.
      int cmp = c != ceiling ? (c > ceiling ? -1 : 1) : Entry.PRIORITY.compare(order[mid], e);
      if (cmp < 0) lo = mid + 1;
      else if (cmp > 0) hi = mid - 1;
      else return mid;
    }
    return -(lo + 1);
  }

  /** The bid whose escalation point comes first, or null. */
  Entry earliest() {
    return heapSize == 0 ? null : heap[0];
  }

  void add(Entry e) {
    byId.put(e.bid.bidId(), e);
    int at = search(e);
    if (at >= 0) throw new IllegalStateException("bid " + e.bid.bidId() + " already rests");
    at = -at - 1;
    if (orderSize == order.length) {
      order = Arrays.copyOf(order, orderSize * 2);
      orderCeilings = Arrays.copyOf(orderCeilings, orderSize * 2);
    }
    System.arraycopy(order, at, order, at + 1, orderSize - at);
    System.arraycopy(orderCeilings, at, orderCeilings, at + 1, orderSize - at);
    order[at] = e;
    orderCeilings[at] = e.ceiling;
    e.orderIndexHint = at;
    orderSize++;
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
    int hint = e.orderIndexHint;
    int o = hint < orderSize && order[hint] == e ? hint : search(e);
    System.arraycopy(order, o + 1, order, o, orderSize - o - 1);
    System.arraycopy(orderCeilings, o + 1, orderCeilings, o, orderSize - o - 1);
    order[--orderSize] = null;
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
