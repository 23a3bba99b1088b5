package io.keld.node.cli.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The run's file handling on its own: the token estimate's stated heuristic, the format detection,
 * the send pass leaving out bad and answered lines, an output file cut by a kill mid-line, and the
 * deadline shorthands.
 */
class BatchFileTest {

  @TempDir Path dir;

  @Test
  void theEstimateIsFourCharactersATokenPlusMaxTokensOr256() throws Exception {
    Path f = dir.resolve("in.jsonl");
    String forty = "x".repeat(40); // 10 tokens
    Files.writeString(f, "{\"custom_id\":\"a\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"" + forty + "\"}],\"max_tokens\":7}}\n"
        + "{\"custom_id\":\"b\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"" + forty + "\"}]}]}}\n"
        + "\n");
    BatchFile.Scan scan = new BatchFile(f).scan(null, null);
    assertEquals(BatchFile.Format.KELD, scan.format(), "no url or method: Keld's lines");
    assertEquals(2, scan.items(), "a blank line is no item");
    assertEquals((10 + 7) + (10 + 256), scan.estimatedTokens());
    assertEquals(BatchFile.CHAT, scan.url());
    assertTrue(scan.bad().isEmpty());
  }

  @Test
  void theSendPassLeavesOutBadLinesAndLinesWithAResult() throws Exception {
    Path f = dir.resolve("in.jsonl");
    List<String> lines = List.of(
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[]}}",
        "not json",
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[]}}",
        "{\"custom_id\":\"c\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[]}}",
        "{\"custom_id\":\"d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[]}}");
    Files.write(f, lines, StandardCharsets.UTF_8);
    BatchFile batch = new BatchFile(f);
    BatchFile.Scan scan = batch.scan(null, null);
    assertEquals(BatchFile.Format.OPENAI, scan.format());
    assertEquals(List.of(2L, 3L), scan.bad().stream().map(BatchFile.BadLine::lineNo).toList());
    assertEquals("#line 3", scan.bad().get(1).resultKey(), "a duplicate's result is keyed by its line, not the first line's id");
    List<String> sent = new ArrayList<>();
    batch.forEachItem(scan, Set.of("c"), item -> sent.add(item.customId() + "@" + item.lineNo()));
    assertEquals(List.of("a@1", "d@5"), sent);
  }

  @Test
  void anOutputFileCutMidLineLosesOnlyThatLine() throws Exception {
    Path out = dir.resolve("out.jsonl");
    Files.writeString(out, "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{}}}\n"
        + "{\"custom_id\":null,\"error\":{\"code\":\"invalid_line\",\"message\":\"line 4 is not JSON\",\"line\":4}}\n"
        + "{\"custom_id\":\"b\",\"respo");
    try (ResultFile results = ResultFile.open(out)) {
      assertEquals(Set.of("a", "#line 4"), results.keys());
      assertEquals(1, results.succeeded());
      assertEquals(1, results.failed());
      String b = "{\"custom_id\":\"b\",\"response\":{\"status_code\":200,\"body\":{}}}";
      assertTrue(results.append(ResultFile.parse(b), b));
      assertFalse(results.append(ResultFile.parse(b), b), "a key is written once");
    }
    List<String> lines = Files.readAllLines(out);
    assertEquals(3, lines.size(), lines.toString());
    assertTrue(lines.get(2).startsWith("{\"custom_id\":\"b\",\"response\""), "the cut line is gone, its item written whole");
  }

  @Test
  void deadlinesTakeShorthandsIsoDurationsAndTimes() {
    CommandLine cmd = new CommandLine(new JobsCommand());
    assertEquals("PT2H", JobsCommand.deadlineText(cmd, "2h"));
    assertEquals("PT1H30M", JobsCommand.deadlineText(cmd, "1h30m"));
    assertEquals("PT24H", JobsCommand.deadlineText(cmd, "1d"));
    assertEquals("PT10M", JobsCommand.deadlineText(cmd, "pt10m"));
    assertEquals("2026-12-07T06:00:00Z", JobsCommand.deadlineText(cmd, "2026-12-07T06:00:00Z"));
    assertThrows(CommandLine.ParameterException.class, () -> JobsCommand.deadlineText(cmd, "tomorrow"));
    assertThrows(CommandLine.ParameterException.class, () -> JobsCommand.deadlineText(cmd, "0m"));
    assertThrows(CommandLine.ParameterException.class, () -> JobsCommand.deadlineText(cmd, ""));
  }
}
