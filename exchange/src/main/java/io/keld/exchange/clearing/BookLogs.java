package io.keld.exchange.clearing;

import java.util.HashMap;
import java.time.Duration;
import io.keld.exchange.clearing.ClearingKeyStore.ClearingKeys;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.clearing.BookLogEntry;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.marketplace.clearing.PublicBookLog;
import io.keld.marketplace.clearing.Viewer;
import io.keld.marketplace.entity.OrderBook;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByPersistenceIdQuery;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The public book log ({@code GET /ixp/v1/books/{use_case}/events}): a book's events read from the
 * journal in order with their sequence numbers, pseudonymised for the reader ({@link PublicBookLog}),
 * and the signed receipt of any fill in it. The journal is the truth: nothing here is stored apart.
 */
public final class BookLogs {

  /** A page of the log, as the wire carries it. {@code you} maps the reader's own ids shown in clear to their pseudonyms. */
  public record Page(String object, String book, List<MatchingRules> rules, Map<String, String> you, List<BookLogEntry> events,
      long nextAfter, boolean complete) {}

  private final ActorSystem<?> system;
  private final Sql sql;
  private final ClearingKeys keys;
  private final MatchingRules rules;
  private final Set<String> useCases;
  private final String readJournalPluginId;

  public BookLogs(ActorSystem<?> system, Sql sql, ClearingKeys keys, MatchingRules rules, Set<String> useCases, String readJournalPluginId) {
    this.system = system;
    this.sql = sql;
    this.keys = keys;
    this.rules = rules;
    this.useCases = Set.copyOf(useCases);
    this.readJournalPluginId = readJournalPluginId;
  }

  public boolean knows(String book) {
    return useCases.contains(book);
  }

  public ClearingKeys keys() {
    return keys;
  }

  /** Events {@code after+1 .. after+limit} as {@code reader} may see them. */
  public CompletionStage<Page> page(Principal reader, String book, long after, int limit) {
    return currentEvents(book, after + 1, after + limit)
        .thenCompose(entries -> viewerFor(reader, entries).thenApply(viewer -> {
          PublicBookLog renderer = new PublicBookLog(book, keys.pseudonyms(), viewer);
          List<BookLogEntry> shown = new ArrayList<>(entries.size());
          for (BookLogEntry e : entries) shown.add(renderer.render(e));
          long next = shown.isEmpty() ? after : shown.get(shown.size() - 1).seq();
          return new Page("book_log", book, List.of(rules), renderer.aliases(), shown, next, shown.size() < limit);
        }));
  }

  /**
   * The log from {@code after} on, live: events as the book persists them. An enterprise's own bids
   * are looked up in batches, so a reader sees each event at most a moment after it was written.
   */
  public Source<BookLogEntry, NotUsed> follow(Principal reader, String book, long after) {
    EventsByPersistenceIdQuery journal = PersistenceQuery.get(system.classicSystem()).getReadJournalFor(EventsByPersistenceIdQuery.class, readJournalPluginId);
    return journal.eventsByPersistenceId(persistenceId(book), after + 1, Long.MAX_VALUE)
        .map(BookLogs::entry)
        .groupedWithin(256, Duration.ofMillis(50))
        .mapAsync(1, batch -> viewerFor(reader, batch).thenApply(viewer -> {
          PublicBookLog renderer = new PublicBookLog(book, keys.pseudonyms(), viewer);
          List<BookLogEntry> shown = new ArrayList<>(batch.size());
          for (BookLogEntry e : batch) shown.add(renderer.render(e));
          return shown;
        }))
        .mapConcat(list -> list);
  }

  /** The signed receipt of the fill at {@code seq}, or empty when the event there is not a fill. */
  public CompletionStage<Optional<FillReceipt>> receipt(String book, long seq) {
    return currentEvents(book, seq, seq).thenApply(entries -> entries.stream()
        .filter(e -> e.seq() == seq && e.event() instanceof BookEvent.Filled)
        .findFirst()
        .map(e -> keys.signer().sign(FillReceipt.of(book, seq, (BookEvent.Filled) e.event(), keys.pseudonyms()))));
  }

  private CompletionStage<List<BookLogEntry>> currentEvents(String book, long from, long to) {
    CurrentEventsByPersistenceIdQuery journal =
        PersistenceQuery.get(system.classicSystem()).getReadJournalFor(CurrentEventsByPersistenceIdQuery.class, readJournalPluginId);
    return journal.currentEventsByPersistenceId(persistenceId(book), from, to)
        .map(BookLogs::entry)
        .runWith(Sink.seq(), Materializer.matFromSystem(system));
  }

  private static BookLogEntry entry(EventEnvelope envelope) {
    return new BookLogEntry(envelope.sequenceNr(), (BookEvent) envelope.event());
  }

  static String persistenceId(String book) {
    return OrderBook.persistenceId(book);
  }

  // -- who reads --------------------------------------------------------------------------------

  /** A provider sees its own provider id; an enterprise the bids of its own jobs (within its key's scope). */
  private CompletionStage<Viewer> viewerFor(Principal reader, List<BookLogEntry> entries) {
    if (reader.orgKind() == OrgKind.PROVIDER) return CompletableFuture.completedFuture(Viewer.provider(reader.orgId()));
    if (reader.orgKind() != OrgKind.ENTERPRISE) return CompletableFuture.completedFuture(Viewer.PUBLIC);
    Set<String> jobIds = new HashSet<>();
    Map<String, String> jobOfBid = new HashMap<>();
    for (BookLogEntry e : entries) {
      for (String bid : bidIds(e.event())) {
        String job = jobOf(bid);
        if (job != null) {
          jobIds.add(job);
          jobOfBid.put(bid, job);
        }
      }
    }
    if (jobIds.isEmpty()) return CompletableFuture.completedFuture(Viewer.PUBLIC);
    return ownJobs(reader, jobIds).thenApply(own -> {
      Set<String> ownBids = new HashSet<>();
      jobOfBid.forEach((bid, job) -> {
        if (own.contains(job)) ownBids.add(bid);
      });
      return Viewer.enterprise(ownBids);
    });
  }

  private CompletionStage<Set<String>> ownJobs(Principal reader, Collection<String> jobIds) {
    return sql.run(c -> {
      Set<String> own = new HashSet<>();
      List<String> ids = new ArrayList<>(jobIds);
      for (int from = 0; from < ids.size(); from += 500) {
        List<String> chunk = ids.subList(from, Math.min(ids.size(), from + 500));
        StringBuilder q = new StringBuilder("SELECT job_id FROM ixp_jobs WHERE org_id = ?");
        if (reader.teamId() != null) q.append(" AND team_id = ?");
        if (reader.projectId() != null) q.append(" AND project_id = ?");
        q.append(" AND job_id IN (").append("?,".repeat(chunk.size() - 1)).append("?)");
        try (PreparedStatement ps = c.prepareStatement(q.toString())) {
          int i = 1;
          ps.setString(i++, reader.orgId());
          if (reader.teamId() != null) ps.setString(i++, reader.teamId());
          if (reader.projectId() != null) ps.setString(i++, reader.projectId());
          for (String id : chunk) ps.setString(i++, id);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) own.add(rs.getString(1));
          }
        }
      }
      return own;
    });
  }

  private static List<String> bidIds(BookEvent e) {
    if (e instanceof BookEvent.Filled f) return List.of(f.fill().bidId());
    if (e instanceof BookEvent.BidRested r) return List.of(r.bid().bidId());
    if (e instanceof BookEvent.BidExpired x) return List.of(x.bidId());
    if (e instanceof BookEvent.BidCancelled c) return List.of(c.bidId());
    if (e instanceof BookEvent.FillReleased r) return List.of(r.bidId());
    return List.of();
  }

  /** A job's bids are named {@code <job id>.b<n>} (see {@code JobBookListener}). */
  static String jobOf(String bidId) {
    int dot = bidId.indexOf(".b");
    return bidId.startsWith("job_") && dot > 0 ? bidId.substring(0, dot) : null;
  }
}
