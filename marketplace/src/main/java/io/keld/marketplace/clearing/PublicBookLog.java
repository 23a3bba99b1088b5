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
import io.keld.marketplace.book.Fill;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A book's events as a participant may read them: identities (provider ids, ask ids, bid ids, and
 * the provider lists inside bids) replaced by the book's {@link Pseudonyms}, except the reader's own;
 * prices, quantities, times, fill ids and rule versions in clear. Pseudonyms are applied the same way
 * to every event, so the log replays exactly as the book did (MATCHING.md, "Verify it yourself").
 */
public final class PublicBookLog {

  private final String book;
  private final Pseudonyms pseudonyms;
  private final Viewer viewer;
  /** The reader's own ids this rendering showed in clear, with their pseudonyms (receipts carry pseudonyms). */
  private final Map<String, String> aliases = new TreeMap<>();

  public PublicBookLog(String book, Pseudonyms pseudonyms, Viewer viewer) {
    this.book = book;
    this.pseudonyms = pseudonyms;
    this.viewer = viewer;
  }

  /** The reader's own ids shown in clear so far, each with the pseudonym everyone else sees. */
  public Map<String, String> aliases() {
    return Map.copyOf(aliases);
  }

  public BookLogEntry render(BookLogEntry entry) {
    return new BookLogEntry(entry.seq(), render(entry.event()));
  }

  public BookEvent render(BookEvent event) {
    if (event instanceof Filled f) {
      Fill x = f.fill();
      Fill fill = new Fill(x.fillId(), bid(x.bidId()), ask(x.askId()), provider(x.providerId()), x.model(), x.pricePerMtok(), x.tokens(),
          x.startMillis(), x.finishMillis(), x.deadlineMillis(), x.filledAtMillis(), x.bestCompetingPricePerMtok(), x.feasibleAsks(),
          x.ruleVersion());
      return new Filled(fill, f.bid() == null ? null : bid(f.bid()), f.atMillis());
    }
    if (event instanceof AskAmended a) {
      return new AskAmended(ask(a.askId()), a.pricePerMtok(), a.quality(), a.throughputTps(), a.windowFromMillis(), a.windowUntilMillis(),
          a.askTimeMillis(), a.atMillis());
    }
    if (event instanceof CapacityUpdated c) return new CapacityUpdated(ask(c.askId()), c.throughputTps(), c.maxConcurrency(), c.atMillis());
    if (event instanceof AskPosted p) {
      Ask a = p.ask();
      return new AskPosted(new Ask(ask(a.askId()), provider(a.providerId()), a.model(), a.useCase(), a.pricePerMtok(), a.quality(),
          a.throughputTps(), a.maxConcurrency(), a.windowFromMillis(), a.windowUntilMillis(), a.region(), a.complianceTags()), p.atMillis());
    }
    if (event instanceof BidRested r) return new BidRested(bid(r.bid()), r.atMillis());
    if (event instanceof FillReleased r) {
      return new FillReleased(r.fillId(), ask(r.askId()), bid(r.bidId()), r.actualTokens(), r.failed(), r.atMillis());
    }
    if (event instanceof BidExpired e) return new BidExpired(bid(e.bidId()), e.escalateAtMillis(), e.atMillis());
    if (event instanceof BidCancelled c) return new BidCancelled(bid(c.bidId()), c.atMillis());
    if (event instanceof AskWithdrawn w) return new AskWithdrawn(ask(w.askId()), w.atMillis());
    throw new IllegalArgumentException("unknown event " + event);
  }

  private Bid bid(Bid b) {
    return new Bid(bid(b.bidId()), b.useCase(), b.models(), b.minQuality(), b.ceilingPerMtok(), b.tokens(), b.deadlineMillis(),
        b.escalateAtMillis(), b.regions(), b.requiredTags(), providers(b.providersAllowed()), providers(b.providersDenied()));
  }

  private Set<String> providers(Set<String> ids) {
    if (ids.isEmpty()) return ids;
    Set<String> out = new LinkedHashSet<>();
    for (String id : ids) out.add(provider(id));
    return out;
  }

  private String provider(String id) {
    String pseudonym = pseudonyms.provider(book, id);
    if (viewer.seesProvider(id)) {
      aliases.put(id, pseudonym);
      return id;
    }
    return pseudonym;
  }

  private String bid(String id) {
    String pseudonym = pseudonyms.bid(book, id);
    if (viewer.seesBid(id)) {
      aliases.put(id, pseudonym);
      return id;
    }
    return pseudonym;
  }

  private String ask(String id) {
    // Ask ids are often made of the provider's name: always pseudonyms; a provider finds its own
    // asks by its provider id, which it sees in clear.
    return pseudonyms.ask(book, id);
  }
}
