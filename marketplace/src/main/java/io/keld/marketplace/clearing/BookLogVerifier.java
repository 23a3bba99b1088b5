package io.keld.marketplace.clearing;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookEvent.AskAmended;
import io.keld.marketplace.book.BookEvent.AskPosted;
import io.keld.marketplace.book.BookEvent.AskWithdrawn;
import io.keld.marketplace.book.BookEvent.BidCancelled;
import io.keld.marketplace.book.BookEvent.BidExpired;
import io.keld.marketplace.book.BookEvent.BidRested;
import io.keld.marketplace.book.BookEvent.CapacityUpdated;
import io.keld.marketplace.book.BookEvent.FillReleased;
import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.book.Clearing;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code keld verify}'s engine: replays a book's public log from its first event and checks every
 * fill against the published rules (MATCHING.md, rules 1-3) as they stood just before it: the same
 * ask comes first, the price is that ask's, the slot is the one its schedule gives (so no capacity is
 * oversold), and {@code feasibleAsks} and {@code bestCompetingPricePerMtok} agree. Each fill is judged
 * by the rule version it names. The other events are checked for what they claim (a bid rests only
 * when nothing was feasible, expires only at its escalation point, a release names an active fill),
 * and sequence numbers must run without gaps. Receipts are checked against the fill at their
 * sequence number and against the published keys.
 *
 * <p>The replay is the engine's own deterministic core ({@link OrderBookCore#apply} and
 * {@link OrderBookCore#clearing}), the code MATCHING.md names as the rules' implementation. Ask ids
 * are pseudonyms in a public log, so when rule 2 comes down to its last tie-break (two asks equal in
 * price, quality and ask time) the verifier accepts either and says so in the verdict.
 *
 * <p>Feed entries in order with {@link #accept}, then {@link #finish}. Not thread-safe.
 */
public final class BookLogVerifier {

  /** The verdict on one fill. */
  public record FillVerdict(long seq, String fillId, String ruleVersion, boolean verified, String detail) {}

  /** Something in the log or a receipt that does not hold, at the sequence number that shows it. */
  public record Mismatch(long seq, String message) {
    /** The line {@code keld verify} prints. */
    public String describe() {
      return "seq " + seq + ": " + message;
    }
  }

  /** The verdict on one receipt. */
  public record ReceiptVerdict(long seq, String fillId, boolean verified, String detail) {}

  public record Report(String book, long events, long firstSeq, long lastSeq, List<FillVerdict> fills, List<Mismatch> mismatches,
      List<ReceiptVerdict> receipts) {

    public boolean ok() {
      return mismatches.isEmpty();
    }

    public long fillsVerified() {
      return fills.stream().filter(FillVerdict::verified).count();
    }
  }

  /** The rule versions this verifier implements; a log names the parameters (safety margin) it used. */
  public static final List<String> KNOWN_VERSIONS = List.of(MatchingRules.VERSION);

  private final String book;
  private final Map<String, MatchingRules> rulesByVersion = new HashMap<>();
  private final MatchingRules latestRules;
  private final OrderBookCore replay;
  private final Map<Long, FillReceipt> receiptsBySeq = new LinkedHashMap<>();
  private final Map<Long, Filled> filledAtReceiptSeq = new HashMap<>();
  private final Map<String, String> aliases = new HashMap<>();
  private final ReceiptKeys keys;

  private final List<FillVerdict> fills = new ArrayList<>();
  private final List<Mismatch> mismatches = new ArrayList<>();
  private long events;
  private long firstSeq = -1;
  private long lastSeq;
  /** Keep every fill's verdict (a CLI prints them); a benchmark over millions of events can turn this off. */
  private final boolean keepVerdicts;
  private long fillCount;
  private long fillsVerified;

  /**
   * @param rules    the rules the log says its book used, one per version
   * @param receipts receipts to check against the log (may be empty)
   * @param keys     the published receipt keys (may be null when there are no receipts)
   * @param aliases  the log reader's own ids shown in clear, with their pseudonyms (receipts carry pseudonyms)
   */
  public BookLogVerifier(String book, List<MatchingRules> rules, List<FillReceipt> receipts, ReceiptKeys keys, Map<String, String> aliases,
      boolean keepVerdicts) {
    this.book = Objects.requireNonNull(book, "book");
    if (rules == null || rules.isEmpty()) throw new IllegalArgumentException("the log names no rules");
    for (MatchingRules r : rules) rulesByVersion.put(r.version(), r);
    this.latestRules = rules.get(rules.size() - 1);
    this.replay = new OrderBookCore(book, latestRules);
    for (FillReceipt r : receipts) receiptsBySeq.put(r.seq(), r);
    this.keys = keys;
    if (aliases != null) this.aliases.putAll(aliases);
    this.keepVerdicts = keepVerdicts;
  }

  public BookLogVerifier(String book, List<MatchingRules> rules) {
    this(book, rules, List.of(), null, Map.of(), true);
  }

  /** More of the reader's own ids with their pseudonyms (a log's pages bring them as they show them). */
  public void addAliases(Map<String, String> more) {
    aliases.putAll(more);
  }

  /** Checks one entry, then applies it to the replayed book. */
  public void accept(BookLogEntry entry) {
    long seq = entry.seq();
    events++;
    if (firstSeq < 0) {
      firstSeq = seq;
      // A replay has to start from the book's first event: state before it is unknown.
      if (seq != 1) mismatch(seq, "the log starts at seq " + seq + ", not 1: events 1.." + (seq - 1) + " are missing");
    } else if (seq != lastSeq + 1) {
      mismatch(seq, seq > lastSeq + 1
          ? "event" + (seq - lastSeq > 2 ? "s " + (lastSeq + 1) + ".." + (seq - 1) + " are" : " " + (lastSeq + 1) + " is") + " missing before seq " + seq
          : "seq " + seq + " comes after seq " + lastSeq + ": the log is out of order or repeats an event");
    }
    lastSeq = Math.max(lastSeq, seq);
    BookEvent event = entry.event();
    if (event == null) {
      mismatch(seq, "the entry has no event");
      return;
    }
    String problem = event instanceof Filled f ? checkFill(seq, f) : check(event);
    if (problem != null && !(event instanceof Filled)) mismatch(seq, problem);
    if (event instanceof Filled f && receiptsBySeq.containsKey(seq)) filledAtReceiptSeq.put(seq, f);
    try {
      // Applied even when a check failed: the replay then follows what the log says happened, so
      // later events are judged on the book as it was.
      replay.apply(event);
    } catch (RuntimeException e) {
      mismatch(seq, "the event cannot be applied to the book as replayed: " + e);
    }
  }

  /** The report: every fill's verdict, every mismatch, every receipt's verdict. */
  public Report finish() {
    List<ReceiptVerdict> receiptVerdicts = new ArrayList<>();
    for (FillReceipt r : receiptsBySeq.values()) {
      String problem = checkReceipt(r);
      receiptVerdicts.add(new ReceiptVerdict(r.seq(), r.fillId(), problem == null, problem == null ? "signature and content match the log" : problem));
      if (problem != null) mismatch(r.seq(), "receipt for fill " + r.fillId() + ": " + problem);
    }
    List<Mismatch> sorted = new ArrayList<>(mismatches);
    sorted.sort((a, b) -> Long.compare(a.seq(), b.seq()));
    return new Report(book, events, Math.max(firstSeq, 0), lastSeq, List.copyOf(fills), List.copyOf(sorted), List.copyOf(receiptVerdicts));
  }

  public long fillCount() {
    return fillCount;
  }

  public long fillsVerified() {
    return fillsVerified;
  }

  // -- fills -------------------------------------------------------------------------------------

  private String checkFill(long seq, Filled filled) {
    Fill fill = filled.fill();
    String problem = fillProblem(filled);
    String note = null;
    if (problem != null && problem.startsWith("~")) {
      note = problem.substring(1);
      problem = null;
    }
    fillCount++;
    if (problem == null) fillsVerified++;
    else mismatch(seq, "fill " + fill.fillId() + ": " + problem);
    if (keepVerdicts) {
      fills.add(new FillVerdict(seq, fill.fillId(), fill.ruleVersion(), problem == null,
          problem != null ? problem : note != null ? note : "the rules pick the same ask at the same terms"));
    }
    return problem;
  }

  /** Null when the fill follows the rules; a message starting with '~' when it does, with a remark. */
  private String fillProblem(Filled filled) {
    Fill fill = filled.fill();
    MatchingRules rules = rulesByVersion.get(fill.ruleVersion());
    if (!KNOWN_VERSIONS.contains(fill.ruleVersion())) {
      return "rule version " + fill.ruleVersion() + " is not one this verifier implements (" + String.join(", ", KNOWN_VERSIONS) + ")";
    }
    if (rules == null) return "rule version " + fill.ruleVersion() + " is not among the rules the log publishes " + rulesByVersion.keySet();
    Bid resting = replay.restingBid(fill.bidId());
    Bid bid = filled.bid() != null ? filled.bid() : resting;
    if (bid == null) return "the log carries no terms for bid " + fill.bidId() + " (it neither rested nor came with the fill)";
    if (!bid.bidId().equals(fill.bidId())) return "the fill is for bid " + fill.bidId() + " but carries the terms of bid " + bid.bidId();
    if (resting != null && !resting.equals(bid)) return "bid " + bid.bidId() + "'s terms differ from those it rested with";
    if (replay.activeFillOfBid(bid.bidId()) != null) return "bid " + bid.bidId() + " already has an active fill";
    if (filled.atMillis() != fill.filledAtMillis()) return "the event's time " + filled.atMillis() + " is not the fill's time " + fill.filledAtMillis();
    String expectedId = "fil_" + book + "_" + replay.nextFillSeq();
    if (!expectedId.equals(fill.fillId())) return "the book's next fill is " + expectedId + ", not " + fill.fillId();
    long now = fill.filledAtMillis();
    Clearing clearing = replay.clearing(bid, now, rules);
    Clearing.Candidate logged = replay.candidate(fill.askId(), bid, now, rules);
    if (logged == null) return "ask " + fill.askId() + " could not take bid " + bid.bidId() + " at " + now + ": " + whyNot(fill.askId(), bid, now, rules);
    if (clearing.best().isEmpty()) return "no ask was feasible for bid " + bid.bidId() + " at " + now;
    Clearing.Candidate first = clearing.best().get(0);
    String note = null;
    if (!first.askId().equals(logged.askId())) {
      if (!first.tiesWith(logged)) {
        return "filled on ask " + logged.askId() + " (price " + logged.pricePerMtok() + ", quality " + logged.quality() + ", ask time "
            + logged.askTimeMillis() + "), but rule 2 puts ask " + first.askId() + " first (price " + first.pricePerMtok() + ", quality "
            + first.quality() + ", ask time " + first.askTimeMillis() + ")";
      }
      note = "ask " + logged.askId() + " ties with ask " + first.askId() + " on price, quality and ask time; rule 2's last tie-break compares"
          + " ask ids, which the public log pseudonymises";
    }
    if (fill.pricePerMtok() != logged.pricePerMtok()) return "price " + fill.pricePerMtok() + ", but ask " + logged.askId() + " asks " + logged.pricePerMtok();
    if (!Objects.equals(fill.providerId(), logged.providerId())) return "provider " + fill.providerId() + ", but ask " + logged.askId() + " is " + logged.providerId() + "'s";
    if (!Objects.equals(fill.model(), logged.model())) return "model " + fill.model() + ", but ask " + logged.askId() + " serves " + logged.model();
    if (fill.tokens() != bid.tokens()) return "tokens " + fill.tokens() + ", but the bid asked for " + bid.tokens();
    if (fill.deadlineMillis() != bid.deadlineMillis()) return "deadline " + fill.deadlineMillis() + ", but the bid's is " + bid.deadlineMillis();
    if (fill.startMillis() != logged.startMillis() || fill.finishMillis() != logged.finishMillis()) {
      long busyUntil = replay.busyUntil(fill.askId());
      String oversold = fill.startMillis() < busyUntil ? " (it starts before ask " + fill.askId() + " is free at " + busyUntil + ": capacity oversold)" : "";
      return "slot [" + fill.startMillis() + ", " + fill.finishMillis() + "), but ask " + logged.askId() + "'s schedule gives [" + logged.startMillis()
          + ", " + logged.finishMillis() + ")" + oversold;
    }
    if (fill.feasibleAsks() != clearing.feasibleAsks()) {
      return "feasibleAsks " + fill.feasibleAsks() + ", but " + clearing.feasibleAsks() + (clearing.feasibleAsks() == MatchingRules.FEASIBLE_COUNT_CAP ? " or more" : "")
          + " asks were feasible";
    }
    if (!Objects.equals(fill.bestCompetingPricePerMtok(), clearing.bestCompetingPricePerMtok())) {
      return "bestCompetingPricePerMtok " + fill.bestCompetingPricePerMtok() + ", but the rules give " + clearing.bestCompetingPricePerMtok();
    }
    return note == null ? null : "~" + note;
  }

  /** The first condition of rule 1 the ask fails for the bid. */
  private String whyNot(String askId, Bid bid, long now, MatchingRules rules) {
    Ask ask = replay.ask(askId);
    if (ask == null) return "it is not on the book";
    if (ask.pricePerMtok() > bid.ceilingPerMtok()) return "its price " + ask.pricePerMtok() + " is above the ceiling " + bid.ceilingPerMtok();
    if (ask.quality() < bid.minQuality()) return "its quality " + ask.quality() + " is below " + bid.minQuality();
    if (!bid.models().isEmpty() && !bid.models().contains(ask.model())) return "its model " + ask.model() + " is not among " + bid.models();
    if (!bid.regions().isEmpty() && (ask.region() == null || !bid.regions().contains(ask.region()))) return "its region is not among " + bid.regions();
    if (!ask.complianceTags().containsAll(bid.requiredTags())) return "it lacks tags " + bid.requiredTags();
    if (!bid.providersAllowed().isEmpty() && !bid.providersAllowed().contains(ask.providerId())) return "its provider is not allowed";
    if (bid.providersDenied().contains(ask.providerId())) return "its provider is denied";
    int inProgress = replay.fillsInProgress(askId);
    if (inProgress >= ask.maxConcurrency()) {
      return "it has " + inProgress + " fills in progress, its maximum concurrency is " + ask.maxConcurrency() + ": capacity oversold";
    }
    return "its schedule cannot finish " + bid.tokens() + " tokens by " + (bid.deadlineMillis() - rules.safetyMarginMillis())
        + " (deadline less the safety margin) or within its window";
  }

  // -- other events ------------------------------------------------------------------------------

  private String check(BookEvent event) {
    if (event instanceof AskPosted p) {
      if (!book.equals(p.ask().useCase())) return "ask " + p.ask().askId() + " is for use case " + p.ask().useCase() + ", not " + book;
      if (replay.ask(p.ask().askId()) != null) return "ask " + p.ask().askId() + " is already on the book";
      return null;
    }
    if (event instanceof AskAmended a) return replay.ask(a.askId()) == null ? "ask " + a.askId() + " is not on the book" : null;
    if (event instanceof CapacityUpdated c) return replay.ask(c.askId()) == null ? "ask " + c.askId() + " is not on the book" : null;
    if (event instanceof AskWithdrawn w) return replay.ask(w.askId()) == null ? "ask " + w.askId() + " is not on the book" : null;
    if (event instanceof BidRested r) {
      Bid bid = r.bid();
      if (replay.restingBid(bid.bidId()) != null || replay.activeFillOfBid(bid.bidId()) != null) return "bid " + bid.bidId() + " is already on the book";
      Clearing clearing = replay.clearing(bid, r.atMillis(), latestRules);
      if (!clearing.best().isEmpty()) {
        return "bid " + bid.bidId() + " rested, but ask " + clearing.best().get(0).askId() + " was feasible for it (rule 3: it must fill)";
      }
      return null;
    }
    if (event instanceof BidExpired e) {
      Bid bid = replay.restingBid(e.bidId());
      if (bid == null) return "bid " + e.bidId() + " expired but does not rest on the book";
      if (bid.escalateAtMillis() != e.escalateAtMillis()) return "bid " + e.bidId() + "'s escalation point is " + bid.escalateAtMillis() + ", not " + e.escalateAtMillis();
      if (e.atMillis() < bid.escalateAtMillis()) return "bid " + e.bidId() + " expired at " + e.atMillis() + ", before its escalation point " + bid.escalateAtMillis();
      return null;
    }
    if (event instanceof BidCancelled c) return replay.restingBid(c.bidId()) == null ? "bid " + c.bidId() + " was cancelled but does not rest on the book" : null;
    if (event instanceof FillReleased r) {
      Fill fill = replay.activeFill(r.fillId());
      if (fill == null) return "fill " + r.fillId() + " is not active";
      if (!fill.askId().equals(r.askId()) || !fill.bidId().equals(r.bidId())) return "the release names ask/bid " + r.askId() + "/" + r.bidId() + ", the fill was " + fill.askId() + "/" + fill.bidId();
      return null;
    }
    return "unknown event " + event.getClass().getSimpleName();
  }

  // -- receipts ----------------------------------------------------------------------------------

  private String checkReceipt(FillReceipt r) {
    if (!book.equals(r.book())) return "it is for book " + r.book() + ", this log is " + book;
    if (keys == null) return "no published keys to check its signature with";
    String signature = keys.check(r);
    if (signature != null) return signature;
    Filled filled = filledAtReceiptSeq.get(r.seq());
    if (filled == null) return "the log has no fill at seq " + r.seq();
    Fill f = filled.fill();
    List<String> differ = new ArrayList<>();
    differ(differ, "fillId", r.fillId(), f.fillId());
    differ(differ, "ruleVersion", r.ruleVersion(), f.ruleVersion());
    differ(differ, "bidId", r.bidId(), pseudonym(f.bidId()));
    differ(differ, "askId", r.askId(), f.askId());
    differ(differ, "providerId", r.providerId(), pseudonym(f.providerId()));
    differ(differ, "model", r.model(), f.model());
    differ(differ, "pricePerMtok", r.pricePerMtok(), f.pricePerMtok());
    differ(differ, "tokens", r.tokens(), f.tokens());
    differ(differ, "startMillis", r.startMillis(), f.startMillis());
    differ(differ, "finishMillis", r.finishMillis(), f.finishMillis());
    differ(differ, "deadlineMillis", r.deadlineMillis(), f.deadlineMillis());
    differ(differ, "bestCompetingPricePerMtok", r.bestCompetingPricePerMtok(), f.bestCompetingPricePerMtok());
    differ(differ, "feasibleAsks", r.feasibleAsks(), f.feasibleAsks());
    differ(differ, "filledAtMillis", r.filledAtMillis(), f.filledAtMillis());
    if (filled.bid() != null) {
      differ(differ, "ceilingPerMtok", r.ceilingPerMtok(), filled.bid().ceilingPerMtok());
      differ(differ, "minQuality", r.minQuality(), filled.bid().minQuality());
    }
    return differ.isEmpty() ? null : "it differs from the log's fill at seq " + r.seq() + ": " + String.join("; ", differ);
  }

  /** An id as a receipt carries it: the log shows the reader's own ids in clear, receipts always pseudonyms. */
  private String pseudonym(String id) {
    return aliases.getOrDefault(id, id);
  }

  private static void differ(List<String> out, String name, Object receipt, Object log) {
    if (!Objects.equals(receipt, log)) out.add(name + " " + receipt + " (log: " + log + ")");
  }

  private void mismatch(long seq, String message) {
    mismatches.add(new Mismatch(seq, message));
  }
}
