package io.keld.trade.asks;

import com.github.benmanes.caffeine.cache.Cache;
import io.keld.kit.CacheSettings;
import io.keld.kit.ProblemException;
import io.keld.ixp.Ids;
import io.keld.ixp.problem.ProblemType;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.entity.BookClient;
import io.keld.trade.providers.ProviderStore;
import io.keld.trade.providers.ServedModel;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Posting, amending and withdrawing a provider's asks: checked against what the provider registered
 * (model, use cases, regions) and the use-case catalog, applied to the use case's book, recorded in
 * the provider's index. HTTP and the WebSocket feed both go through here.
 */
public final class AskService {

  private final BookClient books;
  private final ProviderStore providers;
  private final AskStore asks;
  private final List<String> useCases;
  private final Clock clock;
  private final Consumer<ProviderAsk> changed;
  private final AskTermsWriter terms;
  /** Open asks by id, once read or posted here (see {@link #own}). */
  private final Cache<String, ProviderAsk> openAsks;

  /**
   * @param changed      told of every ask as it is after a change (the feed sends it to the provider's connections)
   * @param openAskCache bounds of the open asks kept in memory; an ask dropped from it is read again when next used
   */
  public AskService(BookClient books, ProviderStore providers, AskStore asks, List<String> useCases, Clock clock, Consumer<ProviderAsk> changed,
      CacheSettings openAskCache) {
    this.books = books;
    this.providers = providers;
    this.asks = asks;
    this.terms = new AskTermsWriter(asks, 1_000);
    this.useCases = List.copyOf(useCases);
    this.clock = clock;
    this.changed = changed;
    this.openAsks = openAskCache.caffeine().build();
  }

  public void requireKnownUseCase(String useCase, String field) {
    if (!useCases.contains(useCase)) {
      throw ProblemException.invalid(field, "unknown use case '" + useCase + "'; the catalog is " + String.join(", ", useCases));
    }
  }

  public CompletionStage<ProviderAsk> post(String orgId, AskTerms terms) {
    requireKnownUseCase(terms.useCase(), "use_case");
    return providers.model(orgId, terms.model()).thenCompose(served -> {
      ServedModel m = served.orElseThrow(() -> ProblemException.invalid("model",
          "model '" + terms.model() + "' is not registered; PUT /trade/v1/models/" + terms.model() + " with its use cases first"));
      if (!m.useCases().contains(terms.useCase())) {
        throw ProblemException.invalid("use_case", "model '" + terms.model() + "' is registered for " + String.join(", ", m.useCases())
            + ", not for '" + terms.useCase() + "'");
      }
      String region = terms.region() != null ? terms.region() : m.regions().isEmpty() ? "any" : m.regions().get(0);
      if (terms.region() != null && !m.regions().isEmpty() && !m.regions().contains(region)) {
        throw ProblemException.invalid("region", "model '" + terms.model() + "' is served in " + String.join(", ", m.regions()) + ", not in '" + region + "'");
      }
      Instant now = now();
      ProviderAsk row = new ProviderAsk(Ids.next("ask"), orgId, terms.useCase(), terms.model(), terms.pricePerMtok(), terms.quality(),
          terms.throughputTps(), terms.maxConcurrency(), region, terms.cancelOnDisconnect(), ProviderAsk.OPEN, now, now);
      Set<String> tags = new HashSet<>(terms.complianceTags());
      Ask ask = new Ask(row.id(), orgId, terms.model(), terms.useCase(), terms.pricePerMtok(), terms.quality(), terms.throughputTps(),
          terms.maxConcurrency(), terms.windowFrom() == null ? Ask.OPEN_FROM : terms.windowFrom().toEpochMilli(),
          terms.windowUntil() == null ? Ask.OPEN_UNTIL : terms.windowUntil().toEpochMilli(), region, tags);
      // Indexed first, so an ask on a book is always one the provider can find and withdraw.
      return asks.insert(row).thenCompose(r -> books.submit(terms.useCase(), new BookOp.PostAsk(ask))).thenCompose(result -> {
        if (result instanceof BookResult.Rejected rejected) {
          return asks.delete(row.id()).thenApply(x -> {
            throw refused(rejected);
          });
        }
        told(row);
        openAsks.put(row.id(), row); // after telling: told() leaves out an ask the cache already holds as it is
        return CompletableFuture.completedFuture(row);
      });
    });
  }

  public CompletionStage<ProviderAsk> amend(String orgId, String askId, AskAmendment change) {
    return own(orgId, askId).thenCompose(row -> amend(row, change));
  }

  /**
   * Amends an ask found with {@link #own}. The book has the operation before this returns (its
   * answer comes later), so amends of one ask made one after another reach the book, and then the
   * provider's index, in that order, even while earlier ones are still being written.
   */
  public CompletionStage<ProviderAsk> amend(ProviderAsk row, AskAmendment change) {
    if (!row.open()) throw ProblemException.of(ProblemType.CONFLICT, "ask " + row.id() + " is withdrawn; post a new one");
    String askId = row.id();
    BookOp op = new BookOp.AmendAsk(askId, row.orgId(), change.pricePerMtok(), change.quality(), change.throughputTps(),
        change.windowFrom() == null ? null : change.windowFrom().toEpochMilli(), change.windowUntil() == null ? null : change.windowUntil().toEpochMilli());
    return books.submit(row.useCase(), op).thenCompose(result -> {
      if (result instanceof BookResult.Rejected rejected) throw refused(rejected);
      return recorded(row.orgId(), new AskTermsChange(askId, change.pricePerMtok(), change.quality(), change.throughputTps(), null, now()));
    });
  }

  /** Live fleet limits for one of the provider's open asks (the book's feasibility follows them). */
  public CompletionStage<ProviderAsk> capacity(String orgId, String askId, long throughputTps, int maxConcurrency) {
    return own(orgId, askId).thenCompose(row -> {
      if (!row.open()) throw ProblemException.of(ProblemType.CONFLICT, "ask " + askId + " is withdrawn");
      return books.submit(row.useCase(), new BookOp.UpdateCapacity(askId, orgId, throughputTps, maxConcurrency)).thenCompose(result -> {
        if (result instanceof BookResult.Rejected rejected) throw refused(rejected);
        return recorded(orgId, new AskTermsChange(askId, null, null, throughputTps, maxConcurrency, now()));
      });
    });
  }

  /**
   * Writes a change the book took to the provider's index (batched with other providers' changes)
   * and answers the ask as the index holds it once the change is committed; an ask withdrawn
   * meanwhile is answered as it is.
   */
  private CompletionStage<ProviderAsk> recorded(String orgId, AskTermsChange change) {
    return terms.write(change).thenCompose(stored -> stored.isPresent()
        ? CompletableFuture.completedFuture(told(stored.get()))
        : reread(orgId, change.askId()));
  }

  /** The ask as stored after a change (and told to the provider's connections). */
  private CompletionStage<ProviderAsk> reread(String orgId, String askId) {
    return asks.find(orgId, askId).thenApply(found -> told(found.orElseThrow(() -> ProblemException.notFound("ask " + askId))));
  }

  /**
   * Tells the provider's connections of the ask as it now is, and keeps the cache in step: an open
   * ask only replaces one already cached (so a change that finishes after a withdraw cannot bring
   * the ask back), a withdrawn one leaves it. Several amends of one ask written in one batch all
   * answer with the same stored ask: it is told once, not once per amend.
   */
  private ProviderAsk told(ProviderAsk a) {
    boolean[] toldAlready = {false};
    if (a.open()) {
      openAsks.asMap().computeIfPresent(a.id(), (id, cached) -> {
        toldAlready[0] = cached.equals(a);
        return a;
      });
    } else {
      openAsks.invalidate(a.id());
    }
    if (!toldAlready[0]) changed.accept(a);
    return a;
  }

  /** Withdraws an ask; withdrawing a withdrawn ask answers it as it is. */
  public CompletionStage<ProviderAsk> withdraw(String orgId, String askId) {
    return own(orgId, askId).thenCompose(this::withdraw);
  }

  /** Withdraws an ask found with {@link #own}; as with {@link #amend(ProviderAsk, AskAmendment)}, the book has it before this returns. */
  public CompletionStage<ProviderAsk> withdraw(ProviderAsk row) {
    if (!row.open()) return CompletableFuture.completedFuture(row);
    String askId = row.id();
    return books.submit(row.useCase(), new BookOp.WithdrawAsk(askId, row.orgId())).thenCompose(result -> {
      if (result instanceof BookResult.Rejected rejected && rejected.reason() != BookResult.Reason.UNKNOWN_ASK) throw refused(rejected);
      // Through the amends' queue: an amend of this ask acknowledged by the book before it is written first.
      return recorded(row.orgId(), AskTermsChange.withdrawn(askId, now()));
    });
  }

  public CompletionStage<List<ProviderAsk>> list(String orgId, String state, int limit) {
    return asks.list(orgId, state, limit);
  }

  public CompletionStage<BookView> book(String useCase) {
    requireKnownUseCase(useCase, "use_case");
    return books.view(useCase);
  }

  /**
   * The provider's ask, or 404. Open asks are kept in memory once read (a provider amending every
   * second should not cost a query each time): the cache answers who owns an ask and on which book
   * it is, which never change; the terms written back are only the ones a change names. A cached
   * ask comes back as a completed stage, so a caller that chains on it runs in its own thread.
   */
  public CompletionStage<ProviderAsk> own(String orgId, String askId) {
    ProviderAsk cached = openAsks.getIfPresent(askId);
    if (cached != null && cached.orgId().equals(orgId)) return CompletableFuture.completedFuture(cached);
    return asks.find(orgId, askId).thenApply(found -> {
      ProviderAsk row = found.orElseThrow(() -> ProblemException.notFound("ask " + askId));
      if (row.open()) openAsks.asMap().putIfAbsent(row.id(), row);
      return row;
    });
  }

  private static ProblemException refused(BookResult.Rejected rejected) {
    ProblemType type = rejected.reason() == BookResult.Reason.INVALID ? ProblemType.INVALID_FIELD : ProblemType.CONFLICT;
    return ProblemException.of(type, "the book refused: " + rejected.detail());
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }
}
