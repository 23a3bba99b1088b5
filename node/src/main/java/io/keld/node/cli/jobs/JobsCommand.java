package io.keld.node.cli.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.ixp.client.IxpClient;
import io.keld.ixp.client.IxpException;
import io.keld.ixp.jobs.JobPage;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.ixp.jobs.QuoteResource;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code keld jobs}: deadline jobs from the command line, over IXP ({@link IxpClient}) on a running
 * node: run a batch file as a job, and list, show, watch, cancel and quote jobs.
 *
 * <p>Exit codes: 0 done; 1 some items failed, or the node refused; 2 a usage error (bad options,
 * an over-limit file, a request the node calls invalid); 3 the job ended without finishing
 * (deadline, budget, cancelled) with the partial results written.
 */
@Command(
    name = "jobs",
    description = "Run batch files as deadline jobs; list, show, watch, cancel and quote jobs (uses KELD_URL and KELD_API_KEY).",
    subcommands = {RunCommand.class, JobsCommand.ListJobs.class, JobsCommand.Get.class, JobsCommand.Watch.class, JobsCommand.Cancel.class,
        JobsCommand.QuoteJob.class, CommandLine.HelpCommand.class})
public final class JobsCommand implements Runnable {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;
  static final int UNFINISHED = 3;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final ObjectMapper JSON = IxpClient.JSON;
  static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  /** Where and as whom to call the node. */
  static final class Endpoint {
    @Option(names = "--url", paramLabel = "URL", description = "Keld HTTP API (default: $KELD_URL or http://localhost:8080).")
    String url;

    @Option(names = "--key", paramLabel = "KEY", description = "API key (default: $KELD_API_KEY). Prefer the variable: flags show in ps.")
    String key;

    IxpClient client(CommandLine cmd) {
      String u = url != null ? url : System.getenv().getOrDefault("KELD_URL", "http://localhost:8080");
      String k = key != null ? key : System.getenv("KELD_API_KEY");
      if (k == null || k.isBlank()) throw new CommandLine.ParameterException(cmd, "no API key: set KELD_API_KEY or pass --key");
      URI base;
      try {
        base = URI.create(u);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(cmd, "KELD_URL/--url is not a URL: " + u);
      }
      if (base.getHost() == null) throw new CommandLine.ParameterException(cmd, "KELD_URL/--url needs a scheme and host, e.g. http://localhost:8080");
      return IxpClient.create(base, k.trim());
    }
  }

  /** Runs a subcommand's body, turning the node's refusals and unreachability into one line and an exit code. */
  static int calling(Callable<Integer> body) throws Exception {
    try {
      return body.call();
    } catch (IxpException e) {
      System.err.println("keld: Keld answered " + e.getMessage());
      return e.status() == 400 || e.status() == 422 ? USAGE : FAILED;
    } catch (IOException e) {
      System.err.println("keld: " + e.getMessage());
      return FAILED;
    }
  }

  // -- the job's requirements, shared by run and quote -------------------------------------------

  /** The options that make a job's requirements (everything but its items). */
  static final class Requirements {
    @Option(names = "--use-case", paramLabel = "NAME", description = "The book to bid on: summarize, classify, chat, embed, … "
        + "(default: embed for an embeddings file, chat otherwise).")
    String useCase;

    @Option(names = "--model", paramLabel = "MODEL", description = "An acceptable model (repeat for several; default: any model of the use case).")
    List<String> models;

    @Option(names = "--deadline", required = true, paramLabel = "WHEN",
        description = "When every result must be back: a duration (90m, 2h, 1d, PT2H) or a time (2026-12-07T06:00:00Z).")
    String deadline;

    @Option(names = "--ceiling", required = true, paramLabel = "USD", description = "The most the job pays, in USD per million tokens (e.g. 0.5).")
    BigDecimal ceiling;

    @Option(names = "--project", paramLabel = "PROJECT_ID", description = "The project the spend belongs to (a project-scoped key may leave it out).")
    String project;

    @Option(names = "--category", paramLabel = "NAME", description = "A job category for the spend map (e.g. summarization).")
    String category;

    @Option(names = "--tag", paramLabel = "KEY=VALUE", description = "A tag for the spend map (repeatable).")
    Map<String, String> tags;

    JobSubmission submission(CommandLine cmd, String defaultUseCase, long estimatedTokens) {
      if (ceiling.signum() <= 0) throw new CommandLine.ParameterException(cmd, "--ceiling must be above 0 USD per million tokens");
      return new JobSubmission(useCase != null ? useCase : defaultUseCase, models == null ? null : new TreeSet<>(models), null,
          deadlineText(cmd, deadline), ceiling.stripTrailingZeros(), estimatedTokens, null, project, category, null,
          tags == null ? null : new TreeMap<>(tags), null);
    }
  }

  private static final Pattern SHORT_DURATION = Pattern.compile("(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

  /** "2h" or "1h30m" as the protocol's ISO-8601 duration; an ISO duration or an RFC 3339 time as it is. */
  static String deadlineText(CommandLine cmd, String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    Matcher m = SHORT_DURATION.matcher(t);
    if (!t.isEmpty() && m.matches()) {
      Duration d = Duration.ZERO;
      if (m.group(1) != null) d = d.plusDays(Long.parseLong(m.group(1)));
      if (m.group(2) != null) d = d.plusHours(Long.parseLong(m.group(2)));
      if (m.group(3) != null) d = d.plusMinutes(Long.parseLong(m.group(3)));
      if (m.group(4) != null) d = d.plusSeconds(Long.parseLong(m.group(4)));
      if (d.isZero()) throw new CommandLine.ParameterException(cmd, "--deadline must be in the future");
      return d.toString();
    }
    if (t.startsWith("p")) return t.toUpperCase(Locale.ROOT); // ISO-8601: PT2H
    if (!t.isEmpty() && Character.isDigit(t.charAt(0))) return text.trim(); // an RFC 3339 time: the node reads and checks it
    throw new CommandLine.ParameterException(cmd, "--deadline is a duration (90m, 2h, 1d, PT2H) or an RFC 3339 time, not '" + text + "'");
  }

  // -- printing ---------------------------------------------------------------------------------

  static String usd(long microUsd) {
    return String.format(Locale.ROOT, "$%,.4f", microUsd / 1e6);
  }

  static String perMtok(BigDecimal usd) {
    return usd == null ? "-" : "$" + usd.toPlainString() + "/Mtok";
  }

  static String when(Instant at) {
    return at == null ? "-" : TIME.format(at);
  }

  static String left(Instant deadline) {
    if (deadline == null) return "-";
    Duration d = Duration.between(Instant.now(), deadline);
    if (d.isNegative()) return "deadline passed";
    long h = d.toHours();
    return (h > 0 ? h + "h" : "") + d.toMinutesPart() + "m" + (h == 0 ? String.format(Locale.ROOT, "%02ds", d.toSecondsPart()) : "") + " left";
  }

  static void printQuote(PrintStream out, QuoteResource q, BigDecimal listPrice) {
    out.printf(Locale.ROOT, "Quote (%s, %,d estimated tokens, deadline %s):%n", q.useCase(), q.estimatedTokens(), when(q.deadline()));
    if (q.clearsAt() != null) {
      QuoteResource.Option o = q.clearsAt();
      out.printf(Locale.ROOT, "  clears at     %s  %s %s (quality %d), can finish by %s%n", perMtok(o.priceUsdPerMtok()), o.providerId(), o.model(),
          o.quality(), when(o.finishBy()));
      out.printf(Locale.ROOT, "  est. cost     %s%s%n", usd(o.estimatedCostMicroUsd()), listPrice == null ? ""
          : "  (at list price " + perMtok(listPrice) + ": " + usd(listCost(q.estimatedTokens(), listPrice)) + ")");
      for (QuoteResource.Option f : q.fallbacks()) {
        out.printf(Locale.ROOT, "  fallback      %s  %s %s%n", perMtok(f.priceUsdPerMtok()), f.providerId(), f.model());
      }
    } else {
      out.println("  clears at     nothing on the book can finish it now; the job rests until an ask can");
    }
    out.printf(Locale.ROOT, "  feasible asks %d%n", q.feasibleAsks());
    if (q.backup() != null) {
      out.printf(Locale.ROOT, "  escalates     at %s to backup %s %s at %s%n", when(q.escalateAt()), q.backup().providerId(), q.backup().model(),
          perMtok(q.backup().priceUsdPerMtok()));
    } else {
      out.printf(Locale.ROOT, "  escalates     no backup under the ceiling: unmatched at %s, it stays on the book to the deadline%n", when(q.escalateAt()));
    }
  }

  static long listCost(long tokens, BigDecimal usdPerMtok) {
    return usdPerMtok.multiply(BigDecimal.valueOf(tokens)).longValue(); // USD/Mtok × tokens = micro-USD
  }

  static void printJob(PrintStream out, JobResource j) {
    out.printf(Locale.ROOT, "%s  %s%s%n", j.id(), j.state(), j.reason() != null ? " (" + j.reason() + ")" : "");
    out.printf(Locale.ROOT, "  use case      %s%s, ceiling %s%n", j.useCase(), j.models() == null || j.models().isEmpty() ? "" : " " + j.models(),
        perMtok(j.ceilingUsdPerMtok()));
    out.printf(Locale.ROOT, "  submitted     %s, deadline %s (%s)%n", when(j.submittedAt()), when(j.deadline()),
        JobResource.terminal(j.state()) ? "ended" : left(j.deadline()));
    if (j.progress() != null) {
      JobResource.Progress p = j.progress();
      out.printf(Locale.ROOT, "  items         %,d answered, %,d failed, %,d open%n", p.itemsAnswered(), p.itemsFailed(), p.itemsOpen());
      out.printf(Locale.ROOT, "  tokens        %,d (in %,d, out %,d) of %,d estimated%n", p.inputTokens() + p.outputTokens(), p.inputTokens(),
          p.outputTokens(), j.estimatedTokens());
    }
    out.printf(Locale.ROOT, "  cost          %s%s%n", usd(j.costMicroUsd()), j.settled() ? " (settled)" : "");
    if (j.legs() != null) {
      for (JobResource.Leg leg : j.legs()) {
        out.printf(Locale.ROOT, "  leg %d %-7s %s %s at %s: %,d answered, %,d failed, %s%n", leg.no(), leg.kind(), leg.providerId(), leg.model(),
            perMtok(leg.priceUsdPerMtok()), leg.itemsAnswered(), leg.itemsFailed(), usd(leg.costMicroUsd()));
      }
    }
    out.printf(Locale.ROOT, "  escalations   %d, re-routes %d%n", j.escalations(), j.reroutes());
  }

  static void printJson(Object value) throws IOException {
    System.out.println(JSON.writeValueAsString(value));
  }

  // -- subcommands ------------------------------------------------------------------------------

  @Command(name = "list", description = "List the organization's jobs, newest first.")
  static final class ListJobs implements Callable<Integer> {
    @CommandLine.Mixin Endpoint endpoint = new Endpoint();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--state", paramLabel = "STATE", description = "Only jobs in this state (running, completed, …).")
    String state;

    @Option(names = "--use-case", paramLabel = "NAME", description = "Only jobs of this use case.")
    String useCase;

    @Option(names = "--limit", paramLabel = "N", description = "At most this many (1 to 200, default 20).")
    int limit = 20;

    @Option(names = "--json", description = "Print the page as JSON, for scripts.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      return calling(() -> {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("limit", "" + limit);
        q.put("realtime", "false");
        if (state != null) q.put("state", state);
        if (useCase != null) q.put("use_case", useCase);
        JobPage page = endpoint.client(spec.commandLine()).list(q);
        if (json) {
          printJson(page);
          return OK;
        }
        System.out.printf("%-22s %-16s %-10s %20s %12s  %s%n", "ID", "STATE", "USE CASE", "ANSWERED/FAILED", "COST", "DEADLINE");
        for (JobResource j : page.data()) {
          JobResource.Progress p = j.progress();
          System.out.printf(Locale.ROOT, "%-22s %-16s %-10s %20s %12s  %s%n", j.id(), j.state(), j.useCase(),
              p == null ? "-" : String.format(Locale.ROOT, "%,d/%,d", p.itemsAnswered(), p.itemsFailed()), usd(j.costMicroUsd()), when(j.deadline()));
        }
        return OK;
      });
    }
  }

  @Command(name = "get", description = "Show a job: state, progress, legs, cost.")
  static final class Get implements Callable<Integer> {
    @CommandLine.Mixin Endpoint endpoint = new Endpoint();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--json", description = "Print the job as JSON, for scripts.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      return calling(() -> {
        JobResource j = endpoint.client(spec.commandLine()).get(jobId);
        if (json) printJson(j);
        else printJob(System.out, j);
        return OK;
      });
    }
  }

  @Command(name = "watch", description = "Follow a job's changes until it ends (exit 0 completed, 3 ended otherwise).")
  static final class Watch implements Callable<Integer> {
    @CommandLine.Mixin Endpoint endpoint = new Endpoint();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--json", description = "Print every change as one JSON line, for scripts.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      return calling(() -> {
        JobResource end = endpoint.client(spec.commandLine()).follow(jobId, j -> {
          try {
            if (json) {
              printJson(j);
            } else {
              JobResource.Progress p = j.progress();
              System.out.printf(Locale.ROOT, "%s  %-16s %,d answered, %,d failed, %,d tokens, %s, %s%n", when(Instant.now()), j.state(),
                  p.itemsAnswered(), p.itemsFailed(), p.inputTokens() + p.outputTokens(), usd(j.costMicroUsd()),
                  JobResource.terminal(j.state()) ? "ended" : left(j.deadline()));
            }
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        });
        if (json) printJson(end);
        else printJob(System.out, end);
        return "completed".equals(end.state()) ? OK : UNFINISHED;
      });
    }
  }

  @Command(name = "cancel", description = "Cancel a job: items not yet answered get an error result; what was answered is paid.")
  static final class Cancel implements Callable<Integer> {
    @CommandLine.Mixin Endpoint endpoint = new Endpoint();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--json", description = "Print the job as JSON, for scripts.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      return calling(() -> {
        JobResource j = endpoint.client(spec.commandLine()).cancel(jobId);
        if (json) printJson(j);
        else printJob(System.out, j);
        return OK;
      });
    }
  }

  @Command(name = "quote", description = "What a job would clear at now; commits nothing. Give a FILE to estimate its tokens, or --tokens.")
  static final class QuoteJob implements Callable<Integer> {
    @CommandLine.Mixin Endpoint endpoint = new Endpoint();
    @CommandLine.Mixin Requirements requirements = new Requirements();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "FILE", arity = "0..1", description = "A batch file (JSONL) whose tokens to estimate.")
    Path file;

    @Option(names = "--tokens", paramLabel = "N", description = "Estimated input plus output tokens, instead of a file.")
    Long tokens;

    @Option(names = "--list-price", paramLabel = "USD", description = "A list price (USD per Mtok) to compare the cost with.")
    BigDecimal listPrice;

    @Option(names = "--json", description = "Print the quote as JSON, for scripts.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      CommandLine cmd = spec.commandLine();
      if ((file == null) == (tokens == null)) throw new CommandLine.ParameterException(cmd, "give a FILE or --tokens (one of them)");
      return calling(() -> {
        long estimate;
        String defaultUseCase = "chat";
        if (file != null) {
          if (!Files.isReadable(file)) throw new CommandLine.ParameterException(cmd, "cannot read " + file);
          BatchFile.Scan scan = new BatchFile(file).scan(null, requirements.useCase == null ? null : RunCommand.urlOf(requirements.useCase));
          estimate = scan.estimatedTokens();
          defaultUseCase = scan.url().equals(BatchFile.EMBEDDINGS) ? "embed" : "chat";
        } else {
          estimate = tokens;
        }
        QuoteResource q = endpoint.client(cmd).quote(requirements.submission(cmd, defaultUseCase, Math.max(1, estimate)));
        if (json) printJson(q);
        else printQuote(System.out, q, listPrice != null ? listPrice : q.backup() != null ? q.backup().priceUsdPerMtok() : null);
        return OK;
      });
    }
  }
}
