package io.keld.trade.feed;

import java.time.Duration;

/**
 * @param buffer     outgoing messages one connection may have waiting; a consumer that falls this far
 *                   behind is told why and disconnected, so it never holds up a book or other providers
 * @param heartbeat  how often an idle connection hears from Keld
 * @param conflation the shortest time between two deltas of a book (a change to a quiet book goes out at once)
 * @param closeGrace how long a disconnected slow consumer has to read its last messages before the connection is cut
 */
public record FeedSettings(int buffer, Duration heartbeat, Duration conflation, Duration closeGrace) {

  public static final FeedSettings DEFAULTS = new FeedSettings(1024, Duration.ofSeconds(15), Duration.ofMillis(10), Duration.ofSeconds(5));

  public FeedSettings {
    if (buffer < 8) throw new IllegalArgumentException("the feed's buffer holds at least 8 messages");
  }

  public static FeedSettings fromConfig(com.typesafe.config.Config c) {
    return new FeedSettings(c.getInt("buffer"), c.getDuration("heartbeat"), c.getDuration("conflation"), c.getDuration("close-grace"));
  }
}
