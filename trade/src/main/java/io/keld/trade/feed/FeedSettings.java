package io.keld.trade.feed;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;

/**
 * @param buffer     outgoing messages one connection may have waiting; a consumer that falls this far
 *                   behind is told why and disconnected, so it never holds up a book or other providers
 * @param heartbeat  how often an idle connection hears from Keld
 * @param conflation the shortest time between two deltas of a book (a change to a quiet book goes out at once)
 * @param closeGrace how long a disconnected slow consumer has to read its last messages before the connection is cut
 * @param inFlight   commands one connection may have started and not yet answered; past it, Keld reads no more of its
 *                   messages until the oldest is answered; at most a quarter of {@code buffer}, since their answers
 *                   can come at once
 */
public record FeedSettings(int buffer, Duration heartbeat, Duration conflation, Duration closeGrace, int inFlight) {

  /** The defaults, as this module's reference.conf states them. */
  public static final FeedSettings DEFAULTS = fromConfig(ConfigFactory.defaultReference().getConfig("keld.trade.feed"));

  public FeedSettings {
    if (buffer < 8) throw new IllegalArgumentException("the feed's buffer holds at least 8 messages");
    if (inFlight < 1) throw new IllegalArgumentException("a feed connection has at least 1 command in flight");
    // A burst of answers (and the ask states that come with them) must leave room in the buffer for the books' messages.
    if (inFlight * 4 > buffer) throw new IllegalArgumentException("a feed connection's in-flight commands (" + inFlight
        + ") are at most a quarter of its buffer (" + buffer + ")");
  }

  /** Reads the {@code keld.trade.feed} section. */
  public static FeedSettings fromConfig(Config c) {
    return new FeedSettings(c.getInt("buffer"), c.getDuration("heartbeat"), c.getDuration("conflation"), c.getDuration("close-grace"), c.getInt("in-flight"));
  }
}
