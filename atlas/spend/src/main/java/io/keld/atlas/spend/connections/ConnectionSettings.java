package io.keld.atlas.spend.connections;

import com.typesafe.config.Config;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How connections pull ({@code keld.atlas.connections} in this module's {@code reference.conf}).
 *
 * @param providers    the providers a connection may name, each with the API it speaks and its base URL
 *                     (configuration, never the caller's: a connection cannot point the node elsewhere)
 * @param pollInterval how often each connection is pulled
 * @param checkEvery   how often a node looks for connections that are due
 * @param backfill     how far back a new connection's first pull reaches
 * @param settle       how long after a UTC day ends it is pulled (providers finish a day's report late)
 * @param window       the span of one pull step; the watermark moves after each
 * @param pageLimit    buckets per page asked for (daily buckets: 1 to 31)
 * @param maxAttempts  tries of one request on 429, 5xx and network errors, before the pull gives up
 * @param backoffMin   the first wait after a 5xx or network error, doubled each time
 * @param backoffMax   the longest wait, also the cap on a 429's Retry-After
 * @param requestTimeout how long one request may take
 * @param lease        how long a node holds a connection while pulling it
 */
public record ConnectionSettings(Map<String, ProviderEndpoint> providers, Duration pollInterval, Duration checkEvery, Duration backfill,
    Duration settle, Duration window, int pageLimit, int maxAttempts, Duration backoffMin, Duration backoffMax, Duration requestTimeout,
    Duration lease) {

  /** The provider APIs a connection can speak. */
  public enum Api {
    OPENAI, ANTHROPIC;

    static Api of(String s) {
      try {
        return valueOf(s.strip().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("api must be openai or anthropic, got " + s);
      }
    }
  }

  /** A configured provider: the API it speaks and where. */
  public record ProviderEndpoint(String name, Api api, URI baseUrl) {}

  public static ConnectionSettings fromConfig(Config c) {
    Map<String, ProviderEndpoint> providers = new LinkedHashMap<>();
    Config p = c.getConfig("providers");
    for (String name : p.root().keySet()) {
      Config one = p.getConfig(name);
      String base = one.getString("base-url").strip();
      while (base.endsWith("/")) base = base.substring(0, base.length() - 1);
      providers.put(name, new ProviderEndpoint(name, Api.of(one.getString("api")), URI.create(base)));
    }
    int pageLimit = c.getInt("page-limit");
    if (pageLimit < 1 || pageLimit > 31) throw new IllegalArgumentException("keld.atlas.connections.page-limit is 1 to 31");
    return new ConnectionSettings(Map.copyOf(providers), c.getDuration("poll-interval"), c.getDuration("check-every"),
        c.getDuration("backfill"), c.getDuration("settle"), c.getDuration("window"), pageLimit, Math.max(1, c.getInt("max-attempts")),
        c.getDuration("backoff-min"), c.getDuration("backoff-max"), c.getDuration("request-timeout"), c.getDuration("lease"));
  }
}
