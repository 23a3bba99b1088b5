package io.keld.exchange.jobs;

import com.typesafe.config.Config;
import io.keld.flow.Flow;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import java.util.Optional;
import java.util.function.Function;

/**
 * Where the operator's default backup ({@code keld.jobs.operator-backup}, {@link JobSettings#operatorBackup()})
 * is called: an OpenAI-compatible fleet registered with Flow under the backup's provider id, so a
 * job that escalates to it has a route (Trade's provider directory finds a fleet registered under a
 * provider's id before any Trade endpoint).
 *
 * @param credential the bearer token, from the environment variable the configuration names; never printed
 */
public record OperatorBackupFleet(String providerId, String baseUrl, String credential, int maxConcurrency) {

  /**
   * The fleet, when the configuration names both a provider and a base URL.
   *
   * @param environment reads an environment variable ({@code System::getenv})
   */
  public static Optional<OperatorBackupFleet> fromConfig(Config operatorBackup, Function<String, String> environment) {
    if (operatorBackup.getString("provider-id").isBlank() || operatorBackup.getString("base-url").isBlank()) return Optional.empty();
    return Optional.of(new OperatorBackupFleet(operatorBackup.getString("provider-id"), operatorBackup.getString("base-url"),
        environment.apply(operatorBackup.getString("credential-env")), operatorBackup.getInt("max-concurrency")));
  }

  /** Registers the fleet with this node's Flow, at its configured concurrency. */
  public void register(Flow flow) {
    flow.endpoint(new ProviderEndpoint(providerId, baseUrl, credential), new Capacity(maxConcurrency, 0));
  }

  @Override
  public String toString() {
    return "OperatorBackupFleet[providerId=" + providerId + ", baseUrl=" + baseUrl + ", credential=" + (credential == null ? "none" : "<redacted>")
        + ", maxConcurrency=" + maxConcurrency + "]";
  }
}
