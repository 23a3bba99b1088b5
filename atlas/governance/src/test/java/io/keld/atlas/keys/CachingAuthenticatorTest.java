package io.keld.atlas.keys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.kit.CacheSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CachingAuthenticatorTest {

  static final Principal ALICE = new Principal("key_a", "org_a", Principal.OrgKind.ENTERPRISE, Role.MEMBER, "team_a", "prj_a");
  static final CacheSettings FIVE_SECONDS = new CacheSettings(100, Duration.ofSeconds(5));

  /** The key table: counts lookups; a key it knows answers when {@code answer} says. */
  static final class Keys implements Authenticator {
    final Map<String, Principal> known;
    final List<String> lookups = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> answer = CompletableFuture.completedFuture(null);

    Keys(Map<String, Principal> known) {
      this.known = known;
    }

    @Override
    public CompletionStage<Optional<Principal>> authenticate(String presented) {
      lookups.add(presented);
      return answer.thenApply(x -> Optional.ofNullable(known.get(presented)));
    }
  }

  final AtomicLong nanos = new AtomicLong();
  final Keys keys = new Keys(Map.of("keld_alice", ALICE));
  final CachingAuthenticator cached = new CachingAuthenticator(keys, FIVE_SECONDS, nanos::get);

  @Test
  void aKnownKeyIsRememberedForTheCachesTimeThenLookedUpAgain() {
    assertEquals(Optional.of(ALICE), authenticate("keld_alice"));
    nanos.addAndGet(Duration.ofMillis(4_999).toNanos());
    assertEquals(Optional.of(ALICE), authenticate("keld_alice"));
    assertEquals(1, keys.lookups.size());

    nanos.addAndGet(Duration.ofMillis(2).toNanos());
    assertEquals(Optional.of(ALICE), authenticate("keld_alice"));
    assertEquals(2, keys.lookups.size());
  }

  @Test
  void anUnknownKeyIsNotRemembered() {
    assertFalse(authenticate("keld_nobody").isPresent());
    assertFalse(authenticate("keld_nobody").isPresent());
    assertEquals(2, keys.lookups.size());
  }

  @Test
  void requestsPresentingTheSameKeyAtOnceShareOneLookup() {
    keys.answer = new CompletableFuture<>();
    CompletableFuture<Optional<Principal>> first = cached.authenticate("keld_alice").toCompletableFuture();
    CompletableFuture<Optional<Principal>> second = cached.authenticate("keld_alice").toCompletableFuture();
    assertFalse(first.isDone());
    keys.answer.complete(null);
    assertEquals(Optional.of(ALICE), first.join());
    assertEquals(Optional.of(ALICE), second.join());
    assertEquals(List.of("keld_alice"), keys.lookups);
  }

  private Optional<Principal> authenticate(String key) {
    return cached.authenticate(key).toCompletableFuture().join();
  }
}
