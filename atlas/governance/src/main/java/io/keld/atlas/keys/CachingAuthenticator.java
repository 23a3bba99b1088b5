package io.keld.atlas.keys;

import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Remembers a key's principal for a short while, so the hot path does not read the key table per
 * request. A revoked key keeps working on this node for at most {@code ttl}. Unknown keys are not
 * remembered (a flood of wrong keys cannot fill the cache).
 */
public final class CachingAuthenticator implements Authenticator {

  private record Entry(Principal principal, long atNanos) {}

  private static final int MAX_ENTRIES = 100_000;

  private final Authenticator inner;
  private final long ttlNanos;
  private final Map<String, Entry> cache = new ConcurrentHashMap<>();

  public CachingAuthenticator(Authenticator inner, Duration ttl) {
    this.inner = inner;
    this.ttlNanos = ttl.toNanos();
  }

  @Override
  public CompletionStage<Optional<Principal>> authenticate(String presented) {
    Entry e = cache.get(presented);
    long now = System.nanoTime();
    if (e != null && now - e.atNanos() < ttlNanos) return CompletableFuture.completedFuture(Optional.of(e.principal()));
    return inner.authenticate(presented).thenApply(found -> {
      if (found.isPresent()) {
        if (cache.size() >= MAX_ENTRIES) cache.clear();
        cache.put(presented, new Entry(found.get(), System.nanoTime()));
      } else {
        cache.remove(presented);
      }
      return found;
    });
  }
}
