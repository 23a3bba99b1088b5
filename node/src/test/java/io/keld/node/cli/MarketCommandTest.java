package io.keld.node.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code keld market simulate} with the exchange's own job rules: the same seed writes the same report; bad options are refused. */
class MarketCommandTest {

  @Test
  void theSameSeedWritesTheSameReport(@TempDir Path dir) throws Exception {
    String[] common = {"market", "simulate", "--seed", "3", "--providers", "20", "--job-scale", "0.2"};
    assertEquals(0, run(concat(common, "--out", dir.resolve("a").toString())));
    assertEquals(0, run(concat(common, "--out", dir.resolve("b").toString())));
    String report = Files.readString(dir.resolve("a/report.md"));
    assertEquals(report, Files.readString(dir.resolve("b/report.md")));
    assertTrue(report.startsWith("# Keld Market: a simulated day (seed 3)"), report.lines().findFirst().orElse(""));
    assertTrue(Files.size(dir.resolve("a/clearing-price-index.png")) > 0);
  }

  @Test
  void providersOutsideTwentyToAHundredAreRefused(@TempDir Path dir) {
    assertEquals(2, run("market", "simulate", "--providers", "5", "--out", dir.toString()));
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = new String[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static int run(String... args) {
    PrintStream out = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      return new CommandLine(new KeldCommand()).execute(args);
    } finally {
      System.setOut(out);
      System.out.print(captured.toString(StandardCharsets.UTF_8));
    }
  }
}
