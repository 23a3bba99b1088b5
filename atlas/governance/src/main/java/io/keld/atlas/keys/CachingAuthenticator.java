package io.keld.atlas.keys;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.kit.CacheSettings;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Remembers a key's principal for a short while, so the hot path does not read the key table per
 * request. A revoked key keeps working on this node for at most the cache's time. Unknown keys are
 * not remembered (a flood of wrong keys cannot fill the cache); requests that present the same key
 * at once share one lookup.
 */
public final class CachingAuthenticator implements Authenticator {

  private final AsyncLoadingCache<String, Principal> principals;

  public CachingAuthenticator(Authenticator inner, CacheSettings cache) {
    this(inner, cache, Ticker.systemTicker());
  }

  CachingAuthenticator(Authenticator inner, CacheSettings cache, Ticker ticker) {
    // A lookup that finds nothing completes with null, which Caffeine does not keep.
    this.principals = cache.caffeine(ticker).buildAsync((presented, executor) ->
        inner.authenticate(presented).thenApply(found -> found.orElse(null)).toCompletableFuture());
  }

  @Override
  public CompletionStage<Optional<Principal>> authenticate(String presented) {
    return principals.get(presented).thenApply(Optional::ofNullable);
  }
}
