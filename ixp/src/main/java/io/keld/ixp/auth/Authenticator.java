package io.keld.ixp.auth;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Turns a presented API key into the {@link Principal} it stands for. Atlas implements it (keys are
 * stored there); every module's routes take it, so no module needs to know where keys live.
 */
public interface Authenticator {

  /** Empty when the key is unknown, malformed or revoked. Never logs the key. */
  CompletionStage<Optional<Principal>> authenticate(String presentedKey);
}
