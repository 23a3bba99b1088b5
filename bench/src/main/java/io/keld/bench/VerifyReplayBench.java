package io.keld.bench;

import com.fasterxml.jackson.databind.ObjectWriter;
import io.keld.kit.Json;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.clearing.BookLogEntry;
import io.keld.marketplace.clearing.BookLogVerifier;
import io.keld.marketplace.clearing.PublicBookLog;
import io.keld.marketplace.clearing.Pseudonyms;
import io.keld.marketplace.clearing.Viewer;
import io.keld.node.cli.VerifyCommand;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code bench/run verify-replay}: how fast {@code keld verify} replays a book's public log. The log
 * is the book-core workload's (one book of ~1,000 asks from 200 providers; amends, bids, fills,
 * releases, posts, withdrawals, cancels and expiries), pseudonymised as the node serves it and saved
 * as the ndjson file {@code keld verify --log} reads. Timed: reading and parsing the file plus the
 * replay with every fill checked (the command's own code), and the replay alone. Target: at least
 * 1,000,000 events a minute.
 */
final class VerifyReplayBench {

  static final double TARGET_EVENTS_PER_MIN = 1_000_000;

  static BenchReport run(boolean quick) throws Exception {
    int events = quick ? 300_000 : 2_000_000;
    List<BookLogEntry> log = new ArrayList<>(events + 16);
    PublicBookLog renderer = new PublicBookLog(BookCoreWorkload.USE_CASE, new Pseudonyms("bench secret of at least 16 bytes".getBytes(StandardCharsets.UTF_8)),
        Viewer.PUBLIC);
    BookCoreWorkload w = new BookCoreWorkload(42, e -> log.add(renderer.render(new BookLogEntry(log.size() + 1, e))));
    while (log.size() < events) w.step();
    long fills = log.stream().filter(e -> e.event() instanceof BookEvent.Filled).count();

    Path file = Files.createTempFile("keld-verify-bench", ".ndjson");
    try {
      ObjectWriter writer = Json.WIRE.writer();
      try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
        out.write(writer.writeValueAsString(new VerifyCommand.LogHeader(VerifyCommand.HEADER, BookCoreWorkload.USE_CASE,
            List.of(MatchingRules.DEFAULT), Map.of())));
        out.newLine();
        for (BookLogEntry e : log) {
          out.write(writer.writeValueAsString(e));
          out.newLine();
        }
      }
      long bytes = Files.size(file);

      // Warm up on the first part, then time the whole file (parse + replay), then the replay alone.
      replay(log.subList(0, Math.min(log.size(), 200_000)));
      long t0 = System.nanoTime();
      BookLogVerifier.Report fromFile = VerifyCommand.verifyFile(file, List.of(), null);
      double fileSeconds = (System.nanoTime() - t0) / 1e9;
      if (!fromFile.ok()) throw new IllegalStateException("the workload's own log did not verify: " + fromFile.mismatches().get(0).describe());
      long t1 = System.nanoTime();
      BookLogVerifier.Report inMemory = replay(log);
      double replaySeconds = (System.nanoTime() - t1) / 1e9;
      if (!inMemory.ok()) throw new IllegalStateException("the workload's own log did not verify in memory");

      double fileRate = log.size() / fileSeconds * 60;
      double replayRate = log.size() / replaySeconds * 60;
      BenchReport report = new BenchReport("verify-replay", quick)
          .figure("events", log.size())
          .figure("fills_verified", fromFile.fillsVerified())
          .figure("file_bytes", bytes)
          .figure("events_per_min_file", Math.round(fileRate))
          .figure("events_per_min_replay_only", Math.round(replayRate))
          .figure("target_events_per_min", (long) TARGET_EVENTS_PER_MIN)
          .figure("met", fileRate >= TARGET_EVENTS_PER_MIN);
      report.line(String.format("The book-core workload's log (%,d events, %,d fills; ~1,000 asks from 200 providers), pseudonymised as", log.size(), fills))
          .line("GET /ixp/v1/books/{use_case}/events serves it, saved as the ndjson file `keld verify --log` reads. One thread.")
          .line("")
          .line("| figure | value | target |")
          .line("|---|---|---|")
          .line(String.format("| `keld verify --log`: read, parse, replay, check every fill | **%,.0f events/min** (%.1f s, %,d fills verified) | ≥ 1,000,000 |",
              fileRate, fileSeconds, fromFile.fillsVerified()))
          .line(String.format("| replay and checks alone (events in memory) | %,.0f events/min (%.1f s) | |", replayRate, replaySeconds))
          .line(String.format("| log file | %,d bytes (%,.0f bytes/event) | |", bytes, (double) bytes / log.size()));
      return report;
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private static BookLogVerifier.Report replay(List<BookLogEntry> log) {
    BookLogVerifier v = new BookLogVerifier(BookCoreWorkload.USE_CASE, List.of(MatchingRules.DEFAULT), List.of(), null, Map.of(), true);
    for (BookLogEntry e : log) v.accept(e);
    return v.finish();
  }

  private VerifyReplayBench() {}
}
