package io.keld.flow;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import java.time.Instant;

/** Prompt text passes through Flow in memory only: a canary in every prompt never reaches a log line. */
class ContentNeverLoggedTest {

  private static final String CANARY = "CANARY-7f3a9c-do-not-log";

  @Test
  void theCanaryNeverReachesTheLogsEvenWhenThingsFail() throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Level before = root.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.setContext(context);
    captured.start();
    root.addAppender(captured);
    root.setLevel(Level.DEBUG); // everything, Pekko's debug output included
    try (FlowFixture fx = new FlowFixture()) {
      // Errors, drops, 429s (the fleet has fewer slots than stated) and refusals all take their paths.
      SimulatedProvider fleet = fx.fleet("canary", new FleetSettings(2, 2_000, 2, 0.2, 0, 0, 0.1));
      Route route = fx.route(fleet, 6);
      List<Item> items = new ArrayList<>();
      for (int i = 0; i < 200; i++) items.add(FlowFixture.chat("c-" + i, "secret " + CANARY + " number " + i, 8));
      List<ItemResult> results = fx.run(fx.job("job-canary", Duration.ofMinutes(1), route), items, Duration.ofSeconds(60));
      List<ItemResult> refused = fx.run(fx.flow.open("job-canary-refused", Instant.now().plusSeconds(30),
          new Route(route.endpoint(), "unknown-model"), JobProgress.IGNORE), items.subList(0, 5), Duration.ofSeconds(30));

      assertEquals(200, results.size());
      assertEquals(5, refused.size());
      results.forEach(r -> assertFalse(r.toString().contains(CANARY)));
      items.forEach(i -> assertFalse(i.toString().contains(CANARY)));
    } finally {
      root.detachAppender(captured);
      root.setLevel(before);
    }
    assertFalse(captured.list.isEmpty(), "the capture saw log lines, so it was really listening");
    for (ILoggingEvent event : captured.list) {
      String line = event.getFormattedMessage() + (event.getThrowableProxy() == null ? "" : event.getThrowableProxy().getMessage());
      assertFalse(line.contains(CANARY), "prompt text reached a log line: " + event.getLoggerName());
    }
  }
}
