package io.keld.marketplace.clearing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.book.Clearing;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A busy book's public log, replayed by the verifier: every fill checks out; then tampered logs and
 * receipts, each of which must fail at the sequence number where the tampering is.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BookLogVerifierTest {

  static final List<MatchingRules> RULES = List.of(MatchingRules.DEFAULT);
  static final Pseudonyms PSEUDONYMS = new Pseudonyms("a cluster secret of enough bytes".getBytes(StandardCharsets.UTF_8));

  BusyBook busy;
  List<BookLogEntry> publicLog;

  @BeforeAll
  void runBusyBook() {
    busy = BusyBook.run(7, 3_000, 40_000);
    PublicBookLog renderer = new PublicBookLog(BusyBook.BOOK, PSEUDONYMS, Viewer.PUBLIC);
    publicLog = busy.log.stream().map(renderer::render).toList();
  }

  @Test
  void everyFillOfABusyBookVerifies() {
    // The book was busy in every way the log can show.
    assertTrue(busy.count(BookEvent.AskPosted.class) >= 3_000, "asks posted");
    assertTrue(busy.count(BookEvent.AskAmended.class) > 1_000, "amends");
    assertTrue(busy.count(BookEvent.CapacityUpdated.class) > 500, "capacity updates");
    assertTrue(busy.count(BookEvent.AskWithdrawn.class) > 100, "withdrawals");
    assertTrue(busy.count(Filled.class) > 2_000, "fills: " + busy.count(Filled.class));
    assertTrue(busy.count(BookEvent.BidRested.class) > 100, "resting bids");
    assertTrue(busy.count(BookEvent.FillReleased.class) > 1_000, "releases");
    assertTrue(busy.count(BookEvent.BidExpired.class) > 10, "expiries: " + busy.count(BookEvent.BidExpired.class));
    assertTrue(busy.count(BookEvent.BidCancelled.class) > 10, "cancellations");
    long offered = busy.log.stream().filter(e -> e.event() instanceof Filled f && f.fill().filledAtMillis() > 0
        && busy.log.stream().anyMatch(r -> r.seq() < e.seq() && r.event() instanceof BookEvent.BidRested br && br.bid().bidId().equals(f.fill().bidId())))
        .limit(5).count();
    assertTrue(offered > 0, "some fills came from offers to resting bids");

    BookLogVerifier.Report report = verify(publicLog);
    assertTrue(report.ok(), () -> "mismatches: " + report.mismatches().subList(0, Math.min(5, report.mismatches().size())));
    assertEquals(busy.count(Filled.class), report.fills().size());
    assertEquals(report.fills().size(), report.fillsVerified());
    assertEquals(busy.log.size(), report.events());
  }

  @Test
  void theLogAsEachTenantSeesItVerifiesToo() {
    for (String provider : List.of(BusyBook.PROVIDERS[0], BusyBook.PROVIDERS[17])) {
      assertTrue(verify(render(Viewer.provider(provider))).ok(), provider);
    }
    assertTrue(verify(render(Viewer.enterprise(bidsOf("globex")))).ok(), "globex");
  }

  @Test
  void aChangedPriceFailsAtItsSeq() {
    BookLogEntry target = nthFill(100);
    List<BookLogEntry> tampered = replaceFill(target.seq(), f -> withPrice(f, f.pricePerMtok() - 1));
    BookLogVerifier.Mismatch first = firstMismatch(tampered);
    assertEquals(target.seq(), first.seq());
    assertTrue(first.describe().startsWith("seq " + target.seq() + ": fill "), first.describe());
    assertTrue(first.message().contains("price"), first.message());
  }

  @Test
  void aDroppedEventFailsNamingTheMissingSeq() {
    // Drop a release: the log then runs on with a gap, and a later fill may also disagree.
    BookLogEntry dropped = publicLog.stream().filter(e -> e.seq() > 5_000 && e.event() instanceof BookEvent.FillReleased).findFirst().orElseThrow();
    List<BookLogEntry> tampered = new ArrayList<>(publicLog);
    tampered.removeIf(e -> e.seq() == dropped.seq());
    BookLogVerifier.Mismatch first = firstMismatch(tampered);
    assertEquals(dropped.seq() + 1, first.seq());
    assertTrue(first.message().contains("event " + dropped.seq() + " is missing"), first.message());

    // Renumbering to hide the gap does not help: dropping an ask's posting leaves its later events without it.
    BookLogEntry post = publicLog.stream().filter(e -> e.seq() > 200 && e.event() instanceof BookEvent.AskPosted p
        && publicLog.stream().anyMatch(f -> f.seq() > e.seq() && f.event() instanceof Filled x && x.fill().askId().equals(p.ask().askId()))).findFirst().orElseThrow();
    List<BookLogEntry> renumbered = new ArrayList<>();
    for (BookLogEntry e : publicLog) if (e.seq() != post.seq()) renumbered.add(new BookLogEntry(renumbered.size() + 1, e.event()));
    BookLogVerifier.Report report = verify(renumbered);
    assertFalse(report.ok());
    String askId = ((BookEvent.AskPosted) post.event()).ask().askId();
    assertTrue(report.mismatches().get(0).message().contains(askId), report.mismatches().get(0).describe());
  }

  @Test
  void aFillMovedToAWorseAskFailsAtItsSeq() {
    // A fill with a runner-up that rule 2 ranks strictly lower: move the fill there, consistently
    // (the runner-up's provider, price and slot), as a book with a thumb on the scale would.
    OrderBookCore replay = new OrderBookCore(BusyBook.BOOK, MatchingRules.DEFAULT);
    for (BookLogEntry e : publicLog) {
      if (e.event() instanceof Filled f && e.seq() > 2_000) {
        Clearing c = replay.clearing(f.bid(), f.atMillis(), MatchingRules.DEFAULT);
        if (c.best().size() >= 2 && !c.best().get(0).tiesWith(c.best().get(1))) {
          Clearing.Candidate worse = c.best().get(1);
          Fill x = f.fill();
          Fill moved = new Fill(x.fillId(), x.bidId(), worse.askId(), worse.providerId(), worse.model(), worse.pricePerMtok(), x.tokens(),
              worse.startMillis(), worse.finishMillis(), x.deadlineMillis(), x.filledAtMillis(), c.best().get(0).pricePerMtok(), x.feasibleAsks(),
              x.ruleVersion());
          List<BookLogEntry> tampered = replaceFill(e.seq(), old -> moved);
          BookLogVerifier.Mismatch first = firstMismatch(tampered);
          assertEquals(e.seq(), first.seq());
          assertTrue(first.message().contains("rule 2 puts ask " + c.best().get(0).askId() + " first"), first.message());
          return;
        }
      }
      replay.apply(e.event());
    }
    throw new AssertionError("no fill with a strictly worse runner-up");
  }

  @Test
  void aChangedCountOrCompetingPriceFails() {
    BookLogEntry target = publicLog.stream().filter(e -> e.seq() > 3_000 && e.event() instanceof Filled f && f.fill().feasibleAsks() >= 2).findFirst().orElseThrow();
    BookLogVerifier.Mismatch count = firstMismatch(replaceFill(target.seq(), f -> new Fill(f.fillId(), f.bidId(), f.askId(), f.providerId(), f.model(),
        f.pricePerMtok(), f.tokens(), f.startMillis(), f.finishMillis(), f.deadlineMillis(), f.filledAtMillis(), f.bestCompetingPricePerMtok(),
        f.feasibleAsks() - 1, f.ruleVersion())));
    assertEquals(target.seq(), count.seq());
    assertTrue(count.message().contains("feasibleAsks"), count.message());
    BookLogVerifier.Mismatch competing = firstMismatch(replaceFill(target.seq(), f -> new Fill(f.fillId(), f.bidId(), f.askId(), f.providerId(), f.model(),
        f.pricePerMtok(), f.tokens(), f.startMillis(), f.finishMillis(), f.deadlineMillis(), f.filledAtMillis(), f.bestCompetingPricePerMtok() + 1,
        f.feasibleAsks(), f.ruleVersion())));
    assertEquals(target.seq(), competing.seq());
    assertTrue(competing.message().contains("bestCompetingPricePerMtok"), competing.message());
  }

  @Test
  void anOversoldSlotFails() {
    // The same slot twice on one ask: the second fill starts before the ask is free.
    BookLogEntry target = publicLog.stream().filter(e -> e.seq() > 1_000 && e.event() instanceof Filled f && f.fill().startMillis() > f.fill().filledAtMillis())
        .findFirst().orElseThrow();
    BookLogVerifier.Mismatch first = firstMismatch(replaceFill(target.seq(), f -> new Fill(f.fillId(), f.bidId(), f.askId(), f.providerId(), f.model(),
        f.pricePerMtok(), f.tokens(), f.filledAtMillis(), f.filledAtMillis() + (f.finishMillis() - f.startMillis()), f.deadlineMillis(), f.filledAtMillis(),
        f.bestCompetingPricePerMtok(), f.feasibleAsks(), f.ruleVersion())));
    assertEquals(target.seq(), first.seq());
    assertTrue(first.message().contains("capacity oversold"), first.message());
  }

  @Test
  void receiptsVerifyAndForgedOrAlteredOnesFail() {
    KeyPair pair = ReceiptSigner.generateKeyPair();
    ReceiptSigner signer = new ReceiptSigner("rk_1", pair.getPrivate(), pair.getPublic());
    ReceiptKeys keys = new ReceiptKeys(Map.of("rk_1", pair.getPublic()));
    List<FillReceipt> receipts = new ArrayList<>();
    for (BookLogEntry e : busy.log) {
      if (e.event() instanceof Filled f && receipts.size() < 50 && e.seq() % 7 == 0) receipts.add(signer.sign(FillReceipt.of(BusyBook.BOOK, e.seq(), f, PSEUDONYMS)));
    }
    BookLogVerifier.Report good = verify(publicLog, receipts, keys, Map.of());
    assertTrue(good.ok(), () -> good.mismatches().toString());
    assertEquals(receipts.size(), good.receipts().stream().filter(BookLogVerifier.ReceiptVerdict::verified).count());

    // Signed by a key that is not the cluster's, under the cluster's key id.
    KeyPair other = ReceiptSigner.generateKeyPair();
    FillReceipt forged = new ReceiptSigner("rk_1", other.getPrivate(), other.getPublic()).sign(FillReceipt.of(BusyBook.BOOK, receipts.get(3).seq(),
        (Filled) busy.log.get((int) receipts.get(3).seq() - 1).event(), PSEUDONYMS));
    BookLogVerifier.Report forgedReport = verify(publicLog, List.of(forged), keys, Map.of());
    assertEquals(forged.seq(), forgedReport.mismatches().get(0).seq());
    assertTrue(forgedReport.mismatches().get(0).message().contains("signature does not verify"), forgedReport.mismatches().get(0).message());

    // A genuine receipt whose price was edited afterwards.
    FillReceipt r = receipts.get(5);
    FillReceipt edited = new FillReceipt(r.book(), r.seq(), r.ruleVersion(), r.fillId(), r.bidId(), r.askId(), r.providerId(), r.model(),
        r.pricePerMtok() - 1, r.tokens(), r.startMillis(), r.finishMillis(), r.deadlineMillis(), r.ceilingPerMtok(), r.minQuality(),
        r.bestCompetingPricePerMtok(), r.feasibleAsks(), r.filledAtMillis(), r.keyId(), r.signature());
    BookLogVerifier.Report editedReport = verify(publicLog, List.of(edited), keys, Map.of());
    assertEquals(r.seq(), editedReport.mismatches().get(0).seq());

    // A genuine receipt against a log whose fill was changed: the receipt no longer matches it.
    List<BookLogEntry> tampered = replaceFill(r.seq(), f -> withPrice(f, f.pricePerMtok() + 1));
    BookLogVerifier.Report againstTampered = verify(tampered, List.of(r), keys, Map.of());
    assertTrue(againstTampered.mismatches().stream().anyMatch(m -> m.seq() == r.seq() && m.message().contains("pricePerMtok")),
        againstTampered.mismatches().toString());

    // A provider's log shows its own id in clear; with its aliases the receipts still match.
    String provider = BusyBook.PROVIDERS[3];
    PublicBookLog mine = new PublicBookLog(BusyBook.BOOK, PSEUDONYMS, Viewer.provider(provider));
    List<BookLogEntry> providerLog = busy.log.stream().map(mine::render).toList();
    BookLogVerifier.Report providerReport = verify(providerLog, receipts, keys, mine.aliases());
    assertTrue(providerReport.ok(), () -> providerReport.mismatches().toString());
  }

  @Test
  void noTenantSeesAnotherTenantsIdentity() {
    // A smaller busy book (every tenant still trades on it), so that each of 44 readings is quick to scan.
    BusyBook small = BusyBook.run(11, 400, 6_000);
    Function<Viewer, String> render = viewer -> {
      PublicBookLog renderer = new PublicBookLog(BusyBook.BOOK, PSEUDONYMS, viewer);
      return small.log.stream().map(renderer::render).toList().toString();
    };
    Pattern providers = Pattern.compile("prv_org\\d+");
    Pattern enterprises = Pattern.compile("job_([a-z]+)_\\d+");
    for (String provider : BusyBook.PROVIDERS) {
      String text = render.apply(Viewer.provider(provider));
      assertEquals(Set.of(provider), found(providers, text, 0), "provider " + provider + " sees");
      assertEquals(Set.of(), found(enterprises, text, 1), "provider " + provider + " sees enterprises");
    }
    for (String enterprise : BusyBook.ENTERPRISES) {
      Set<String> own = new HashSet<>();
      for (String id : small.bidIds) if (BusyBook.enterpriseOf(id).equals(enterprise)) own.add(id);
      String text = render.apply(Viewer.enterprise(own));
      assertEquals(Set.of(), found(providers, text, 0), enterprise + " sees providers");
      assertEquals(Set.of(enterprise), found(enterprises, text, 1), enterprise + " sees enterprises");
    }
    String anyone = render.apply(Viewer.PUBLIC);
    assertEquals(Set.of(), found(providers, anyone, 0));
    assertEquals(Set.of(), found(enterprises, anyone, 1));
    // The same provider has other pseudonyms in another book.
    assertFalse(PSEUDONYMS.provider("summarize", "prv_org1").equals(PSEUDONYMS.provider("chat", "prv_org1")));
  }

  // -- helpers ------------------------------------------------------------------------------------

  static Set<String> found(Pattern p, String text, int group) {
    Set<String> out = new HashSet<>();
    Matcher m = p.matcher(text);
    while (m.find()) out.add(m.group(group));
    return out;
  }

  Set<String> bidsOf(String enterprise) {
    Set<String> out = new HashSet<>();
    for (String id : busy.bidIds) if (BusyBook.enterpriseOf(id).equals(enterprise)) out.add(id);
    return out;
  }

  List<BookLogEntry> render(Viewer viewer) {
    PublicBookLog renderer = new PublicBookLog(BusyBook.BOOK, PSEUDONYMS, viewer);
    return busy.log.stream().map(renderer::render).toList();
  }

  BookLogEntry nthFill(int n) {
    return publicLog.stream().filter(e -> e.event() instanceof Filled).skip(n).findFirst().orElseThrow();
  }

  List<BookLogEntry> replaceFill(long seq, UnaryOperator<Fill> change) {
    List<BookLogEntry> out = new ArrayList<>(publicLog);
    Filled f = (Filled) out.get((int) seq - 1).event();
    out.set((int) seq - 1, new BookLogEntry(seq, new Filled(change.apply(f.fill()), f.bid(), f.atMillis())));
    return out;
  }

  static Fill withPrice(Fill f, long price) {
    return new Fill(f.fillId(), f.bidId(), f.askId(), f.providerId(), f.model(), price, f.tokens(), f.startMillis(), f.finishMillis(),
        f.deadlineMillis(), f.filledAtMillis(), f.bestCompetingPricePerMtok(), f.feasibleAsks(), f.ruleVersion());
  }

  static BookLogVerifier.Report verify(List<BookLogEntry> log) {
    return verify(log, List.of(), null, Map.of());
  }

  static BookLogVerifier.Report verify(List<BookLogEntry> log, List<FillReceipt> receipts, ReceiptKeys keys, Map<String, String> aliases) {
    BookLogVerifier v = new BookLogVerifier(BusyBook.BOOK, RULES, receipts, keys, aliases, true);
    for (BookLogEntry e : log) v.accept(e);
    return v.finish();
  }

  static BookLogVerifier.Mismatch firstMismatch(List<BookLogEntry> log) {
    BookLogVerifier.Report report = verify(log);
    assertFalse(report.ok(), "the tampered log verified");
    return report.mismatches().get(0);
  }
}
