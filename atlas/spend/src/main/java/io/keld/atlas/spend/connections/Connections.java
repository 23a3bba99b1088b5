package io.keld.atlas.spend.connections;

import java.util.concurrent.ScheduledExecutorService;
import io.keld.kit.sql.Sql;
import io.keld.kit.crypto.CredentialCipher;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.connections.ConnectionSettings.ProviderEndpoint;
import io.keld.atlas.spend.connections.ConnectionStore.ProviderConnection;
import io.keld.atlas.spend.connections.ReportClient.PullFailure;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.kit.crypto.MasterKey;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provider connections on one node: stores them (credential sealed), and pulls each from its
 * watermark on a schedule, one at a time on a thread of their own (a pull sleeps through backoffs).
 *
 * <p>A pull reads {@code [watermark, end)} where {@code end} is the start of the last UTC day that
 * ended at least {@code settle} ago, in steps of {@code window}: each step reads every page of every
 * report first and only then appends to the ledger, in one transaction, and moves the watermark to
 * the step's end. A step that fails (429s or 5xx past the attempts, a malformed page, a refused
 * credential) appends nothing and leaves the watermark where it was; the error is on the connection
 * and the next poll tries again. The ledger's natural key (source, grouping fields of the bucket)
 * makes a step read twice (a crash between append and watermark, two nodes) count once.
 */
public final class Connections implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Connections.class);

  private final ConnectionStore store;
  private final ConnectionSettings settings;
  private final SpendIngest ingest;
  private final Clock clock;
  private final UsagePull pull;
  private final String owner = "node-" + UUID.randomUUID();
  private final ExecutorService pulls = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "keld-usage-pulls");
    t.setDaemon(true);
    return t;
  });
  private final ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "keld-usage-pull-schedule");
    t.setDaemon(true);
    return t;
  });

  public Connections(ConnectionStore store, ConnectionSettings settings, SpendIngest ingest, Clock clock) {
    this(store, settings, ingest, clock, d -> Thread.sleep(d.toMillis()));
  }

  Connections(ConnectionStore store, ConnectionSettings settings, SpendIngest ingest, Clock clock, ReportClient.Sleeper sleeper) {
    this.store = store;
    this.settings = settings;
    this.ingest = ingest;
    this.clock = clock;
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NEVER).build();
    this.pull = new UsagePull(new ReportClient(http, settings, sleeper), settings.pageLimit());
  }

  public static Connections start(Sql sql, MasterKey key, ConnectionSettings settings, SpendIngest ingest, Clock clock) {
    Connections c = new Connections(new ConnectionStore(sql, new CredentialCipher(key)), settings, ingest, clock);
    c.schedule();
    return c;
  }

  /** Looks for due connections every {@code check-every}. */
  public void schedule() {
    long every = settings.checkEvery().toMillis();
    ticks.scheduleWithFixedDelay(this::pullDue, every, every, TimeUnit.MILLISECONDS);
  }

  public ConnectionSettings settings() {
    return settings;
  }

  public ConnectionStore store() {
    return store;
  }

  /** Stores a connection whose first pull reaches back {@code backfill}, and starts that pull. */
  public CompletionStage<ProviderConnection> create(String orgId, String provider, String name, String credential) {
    Instant now = clock.instant();
    Instant watermark = now.minus(settings.backfill()).truncatedTo(ChronoUnit.DAYS);
    return store.create(orgId, provider, name, credential, watermark, now).thenApply(c -> {
      try {
        pulls.execute(() -> pullOnce(c.id()));
      } catch (RejectedExecutionException closed) {
        // shutting down: the next node's poll pulls it
      }
      return c;
    });
  }

  /** Pulls a connection now, after any pull already running here, and answers with its status after. */
  public CompletionStage<ProviderConnection> pullNow(String id) {
    CompletableFuture<ProviderConnection> done = new CompletableFuture<>();
    try {
      pulls.execute(() -> {
        try {
          pullOnce(id);
          done.complete(store.byId(id).orElseThrow(() -> new IllegalStateException("connection " + id + " was deleted")));
        } catch (RuntimeException e) {
          done.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      done.completeExceptionally(new IllegalStateException("the node is shutting down"));
    }
    return done;
  }

  private void pullDue() {
    try {
      Instant now = clock.instant();
      for (ProviderConnection c : store.due(now.minus(settings.pollInterval()), now)) {
        pulls.execute(() -> pullOnce(c.id()));
      }
    } catch (RuntimeException e) {
      log.warn("Looking for connections to pull failed: {}", e.getMessage());
    }
  }

  /** One pull of one connection, if this node can take it; the outcome goes on the connection. */
  void pullOnce(String id) {
    Instant now = clock.instant();
    if (!store.lease(id, owner, now, now.plus(settings.lease()))) return;
    try {
      Optional<ProviderConnection> found = store.byId(id);
      if (found.isEmpty()) return;
      ProviderConnection c = found.get();
      ProviderEndpoint provider = settings.providers().get(c.provider());
      if (provider == null) {
        store.failed(id, "provider " + c.provider() + " is no longer configured on this node (keld.atlas.connections.providers)", now);
        return;
      }
      Optional<String> credential = store.credential(id);
      if (credential.isEmpty()) return;
      Instant end = now.minus(settings.settle()).truncatedTo(ChronoUnit.DAYS);
      Instant from = c.watermark();
      int accepted = 0;
      int duplicates = 0;
      try {
        while (from.isBefore(end)) {
          Instant to = from.plus(settings.window()).isBefore(end) ? from.plus(settings.window()) : end;
          List<SpendIngest.Incoming> records = pull.fetch(provider, credential.get(), c.orgId(), from, to);
          Principal scope = new Principal(id, c.orgId(), Principal.OrgKind.ENTERPRISE, Role.ADMIN, null, null);
          Ledger.Appended appended = ingest.ingest(scope, records).toCompletableFuture().join();
          accepted += appended.accepted();
          duplicates += appended.duplicates();
          store.advanced(id, to);
          from = to;
        }
        store.succeeded(id, clock.instant());
        if (accepted > 0) log.info("Connection {} ({}): {} usage records pulled up to {}", id, c.provider(), accepted, end);
        else log.debug("Connection {} ({}): nothing new up to {} ({} already there)", id, c.provider(), end, duplicates);
      } catch (PullFailure e) {
        store.failed(id, e.getMessage(), clock.instant());
        log.warn("Connection {} ({}): pull stopped at {}: {}", id, c.provider(), from, e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        String why = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
        store.failed(id, "the pulled usage could not be recorded: " + ReportClient.mask(String.valueOf(why), credential.get()),
            clock.instant());
        log.warn("Connection {} ({}): recording the pull failed: {}", id, c.provider(), ReportClient.mask(String.valueOf(why), credential.get()));
      }
    } catch (RuntimeException e) {
      log.warn("Connection {}: pull could not run: {}", id, e.getMessage());
    } finally {
      try {
        store.release(id, owner);
      } catch (RuntimeException e) {
        log.warn("Connection {}: releasing its lease failed (it expires by itself): {}", id, e.getMessage());
      }
    }
  }

  @Override
  public void close() {
    ticks.shutdownNow();
    pulls.shutdownNow();
  }
}
