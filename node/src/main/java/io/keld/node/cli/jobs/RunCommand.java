package io.keld.node.cli.jobs;

import static io.keld.node.cli.jobs.JobsCommand.FAILED;
import static io.keld.node.cli.jobs.JobsCommand.OK;
import static io.keld.node.cli.jobs.JobsCommand.UNFINISHED;
import static io.keld.node.cli.jobs.JobsCommand.USAGE;

import io.keld.ixp.client.IxpClient;
import io.keld.ixp.client.IxpException;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.ixp.jobs.QuoteResource;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code keld jobs run FILE}: a batch file as one deadline job. Checks the file, quotes, submits
 * with an idempotency key derived from the file's bytes and the options (so the same command finds
 * the same job), streams the items that have no result in the output file yet, and appends each
 * result as it arrives. The file never leaves this machine except as the items streamed to the
 * node, which passes them to the provider without keeping them.
 */
@Command(name = "run", description = {
    "Run a batch file (OpenAI Batch JSONL, or Keld's {custom_id, body} lines) as a deadline job, writing results as they arrive.",
    "Interrupted, the same command resumes the same job and sends only the items with no result in the output file.",
    "Exit: 0 every item answered; 1 some items failed (see the output); 2 usage error; 3 the job ended unfinished (partial results written)."})
final class RunCommand implements Callable<Integer> {

  @CommandLine.Mixin JobsCommand.Endpoint endpoint = new JobsCommand.Endpoint();
  @CommandLine.Mixin JobsCommand.Requirements requirements = new JobsCommand.Requirements();
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(paramLabel = "FILE", description = "The batch file: JSONL, one item a line.")
  Path file;

  @Option(names = "--output", paramLabel = "FILE", description = "Where results go (default: beside FILE, NAME.results.jsonl). Appended to on a resume.")
  Path output;

  @Option(names = "--format", paramLabel = "openai|keld", description = "The input's line format (default: detected from the first line). "
      + "Results are written in the same format: OpenAI Batch output lines, or Keld result lines.")
  String format;

  @Option(names = "--list-price", paramLabel = "USD", description = "A list price (USD per Mtok) to compare the cost with, e.g. what your "
      + "provider's own batch API charges (default: the job's backup price, when it has one).")
  BigDecimal listPrice;

  @Option(names = "--progress", paramLabel = "auto|bar|lines", description = "A bar on a terminal, plain lines otherwise (default auto).")
  String progress = "auto";

  @Option(names = "--progress-every", paramLabel = "SECONDS", description = "How often a plain progress line is printed (default 10).")
  int progressEverySeconds = 10;

  /** How many failed reconnects in a row, without a new result between them, end a run (re-run to go on). */
  private static final int MAX_RECONNECTS = 20;

  static String urlOf(String useCase) {
    return "embed".equals(useCase) ? BatchFile.EMBEDDINGS : BatchFile.CHAT;
  }

  @Override
  public Integer call() throws Exception {
    CommandLine cmd = spec.commandLine();
    PrintStream out = System.out;
    PrintStream err = System.err;
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) throw new CommandLine.ParameterException(cmd, "cannot read " + file);
    BatchFile.Format given;
    Progress.Mode mode;
    try {
      given = format == null ? null : BatchFile.Format.parse(format);
      mode = Progress.Mode.valueOf(progress.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(cmd, e.getMessage().startsWith("--") ? e.getMessage() : "--progress is auto, bar or lines");
    }
    if (progressEverySeconds < 1) throw new CommandLine.ParameterException(cmd, "--progress-every is at least 1 second");
    Path resultsPath = output != null ? output : defaultOutput(file);
    if (Files.exists(resultsPath) && Files.isSameFile(resultsPath, file)) {
      throw new CommandLine.ParameterException(cmd, "--output must not be the input file");
    }
    String deadline = JobsCommand.deadlineText(cmd, requirements.deadline);

    // 1. Check the whole file before anything is submitted.
    BatchFile batch = new BatchFile(file);
    BatchFile.Scan scan = batch.scan(given, requirements.useCase == null ? null : urlOf(requirements.useCase));
    if (scan.items() > BatchFile.MAX_ITEMS) {
      err.printf(Locale.ROOT, "keld: %s holds %,d items; a job takes at most %,d (the data plane's limit). Split the file; nothing was submitted.%n",
          file, scan.items(), BatchFile.MAX_ITEMS);
      return USAGE;
    }
    long good = scan.items() - scan.bad().size();
    out.printf(Locale.ROOT, "Read %s: %,d items (%s format, %s), %,d bad line%s; about %,d tokens (4 characters a token, plus max_tokens or %d for each answer).%n",
        file, scan.items(), scan.format().wire(), scan.url(), scan.bad().size(), scan.bad().size() == 1 ? "" : "s", scan.estimatedTokens(),
        BatchFile.DEFAULT_OUTPUT_TOKENS);
    for (int i = 0; i < Math.min(10, scan.bad().size()); i++) err.println("  " + scan.bad().get(i).message());
    if (scan.bad().size() > 10) err.printf(Locale.ROOT, "  … and %,d more (each has an error line in the output)%n", scan.bad().size() - 10);
    if (scan.items() == 0) {
      err.println("keld: " + file + " holds no items; nothing was submitted.");
      return USAGE;
    }

    return JobsCommand.calling(() -> {
      IxpClient ixp = endpoint.client(cmd);
      String defaultUseCase = scan.url().equals(BatchFile.EMBEDDINGS) ? "embed" : "chat";
      JobSubmission submission = requirements.submission(cmd, defaultUseCase, Math.max(1, scan.estimatedTokens()));
      try (ResultFile results = ResultFile.open(resultsPath)) {
        // Lines that are not sent get their error result now (once: a re-run finds them written).
        for (BatchFile.BadLine bad : scan.bad()) {
          if (!results.has(bad.resultKey())) {
            String line = ResultFile.badLineResult(bad, scan.format());
            results.append(ResultFile.parse(line), line);
          }
        }
        if (good == 0) {
          out.printf("No item of %s can be sent; the errors are in %s. Nothing was submitted.%n", file, resultsPath);
          return FAILED;
        }

        // 2. Quote, then submit: the same file and options give the same key, so a re-run resumes the job.
        QuoteResource quote = ixp.quote(submission);
        JobsCommand.printQuote(out, quote, listPrice != null ? listPrice : quote.backup() != null ? quote.backup().priceUsdPerMtok() : null);
        IxpClient.Submitted submitted = ixp.submit(submission, idempotencyKey(scan.sha256(), IxpClient.body(submission)));
        JobResource job = submitted.job();
        out.printf(Locale.ROOT, "%s job %s (%s); results to %s%s%n", submitted.created() ? "Submitted" : "Resuming", job.id(), job.state(),
            resultsPath, results.keys().isEmpty() ? "" : String.format(Locale.ROOT, " (%,d already there)", results.keys().size()));
        out.flush();

        // 3. Stream what has no result yet, writing results as they come; reconnect when the connection drops.
        return stream(ixp, job, batch, scan, results, mode, out, err);
      }
    });
  }

  private int stream(IxpClient ixp, JobResource submitted, BatchFile batch, BatchFile.Scan scan, ResultFile results, Progress.Mode mode,
      PrintStream out, PrintStream err) throws Exception {
    JobResource job = submitted;
    AtomicLong uploadProblems = new AtomicLong();
    ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "keld-jobs-poller");
      t.setDaemon(true);
      return t;
    });
    // Ctrl-C or SIGTERM: every result so far is in the file already (one flushed write each); say how to go on.
    Thread interrupted = new Thread(() -> err.printf(Locale.ROOT, "%nkeld: interrupted; %,d results are in %s. Run the same command again to resume job %s.%n",
        results.keys().size(), results.path(), submitted.id()));
    Runtime.getRuntime().addShutdownHook(interrupted);
    try (Progress progress = Progress.start(mode, scan.items(), results.keys().size(), results.failed(), Duration.ofSeconds(progressEverySeconds), err)) {
      progress.job(job);
      String jobId = job.id();
      poller.scheduleWithFixedDelay(() -> {
        try {
          progress.job(ixp.get(jobId));
        } catch (Exception e) {
          // the next poll tries again; the upload reports a node that is gone
        }
      }, 2, 2, TimeUnit.SECONDS);
      int reconnects = 0;
      long backoffMs = 1000;
      while (!JobResource.terminal(job.state())) {
        long before = results.keys().size();
        try {
          ixp.upload(jobId, scan.format() == BatchFile.Format.OPENAI ? IxpClient.ResultFormat.OPENAI : IxpClient.ResultFormat.KELD,
              sink -> batch.forEachItem(scan, results.keys(), item -> sink.send(item.bytes())),
              line -> {
                ResultFile.Parsed p = ResultFile.parse(line);
                if (p == null || p.key() == null) {
                  // A problem of the upload itself (a limit, the job ending): said, not written as a result.
                  uploadProblems.incrementAndGet();
                  err.println("keld: the node ended the upload: " + line);
                  return;
                }
                try {
                  results.append(p, line);
                } catch (IOException e) {
                  throw new IllegalStateException("cannot write " + results.path() + ": " + e.getMessage(), e);
                }
                progress.update(results.keys().size(), results.failed());
              });
          job = ixp.get(jobId);
          if (remaining(batch, scan, results) == 0) {
            job = awaitEnd(ixp, job);
          } else if (!JobResource.terminal(job.state()) && results.keys().size() == before && ++reconnects > MAX_RECONNECTS) {
            err.println("keld: the node keeps ending the upload without answering; run the same command again to resume.");
            return UNFINISHED;
          }
        } catch (IxpException e) {
          if (e.status() != 409) throw e;
          job = ixp.get(jobId); // the job has ended and takes no more items
        } catch (IOException e) {
          reconnects = results.keys().size() > before ? 1 : reconnects + 1;
          if (reconnects > MAX_RECONNECTS) {
            err.printf("keld: lost the connection to Keld %d times in a row (%s); run the same command again to resume.%n", reconnects, e.getMessage());
            return UNFINISHED;
          }
          err.printf("keld: the connection dropped (%s); resuming in %ds.%n", e.getMessage(), backoffMs / 1000);
          Thread.sleep(backoffMs);
          backoffMs = results.keys().size() > before ? 1000 : Math.min(30_000, backoffMs * 2);
          try {
            job = ixp.get(jobId);
          } catch (IOException again) {
            // still away: the loop tries the upload again
          }
        }
        progress.job(job);
      }
      progress.update(results.keys().size(), results.failed());
      progress.job(job);
    } finally {
      poller.shutdownNow();
      try {
        Runtime.getRuntime().removeShutdownHook(interrupted);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it says what to do
      }
    }
    return summary(job, batch, scan, results, out);
  }

  /** How many items of the file have no result in the output (a pass over the file, as the upload makes). */
  private static long remaining(BatchFile batch, BatchFile.Scan scan, ResultFile results) throws IOException {
    AtomicLong n = new AtomicLong();
    batch.forEachItem(scan, results.keys(), item -> n.incrementAndGet());
    return n.get();
  }

  /** Every item has its result: the job completes and settles within seconds. */
  private static JobResource awaitEnd(IxpClient ixp, JobResource job) throws IOException, InterruptedException {
    long giveUp = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!(JobResource.terminal(job.state()) && job.settled()) && System.nanoTime() < giveUp) {
      Thread.sleep(250);
      job = ixp.get(job.id());
    }
    return job;
  }

  private int summary(JobResource job, BatchFile batch, BatchFile.Scan scan, ResultFile results, PrintStream out) throws IOException {
    long remaining = remaining(batch, scan, results);
    JobResource.Progress p = job.progress();
    long tokens = p == null ? 0 : p.inputTokens() + p.outputTokens();
    out.printf(Locale.ROOT, "%nJob %s %s%s.%n", job.id(), job.state(), job.reason() != null ? " (" + job.reason() + ")" : "");
    out.printf(Locale.ROOT, "  items         %,d succeeded, %,d failed, %,d without a result (of %,d) -> %s%n", results.succeeded(), results.failed(),
        remaining, scan.items(), results.path());
    out.printf(Locale.ROOT, "  tokens        %,d (in %,d, out %,d; estimated %,d)%n", tokens, p == null ? 0 : p.inputTokens(),
        p == null ? 0 : p.outputTokens(), job.estimatedTokens());
    String clearing = job.match() != null ? JobsCommand.perMtok(job.match().priceUsdPerMtok()) + " (" + job.match().providerId() + " "
        + job.match().model() + ")" : "no match";
    out.printf(Locale.ROOT, "  cost          %s%s at %s%n", JobsCommand.usd(job.costMicroUsd()), job.settled() ? "" : " so far", clearing);
    out.printf(Locale.ROOT, "  escalations   %d, re-routes %d, legs %d%n", job.escalations(), job.reroutes(), job.legs() == null ? 0 : job.legs().size());
    BigDecimal list = listPrice != null ? listPrice : job.backup() != null ? job.backup().priceUsdPerMtok() : null;
    if (list != null) {
      long atList = JobsCommand.listCost(tokens, list);
      out.printf(Locale.ROOT, "  at list price %s for the same tokens at %s (saved %s)%n", JobsCommand.usd(atList), JobsCommand.perMtok(list),
          JobsCommand.usd(atList - job.costMicroUsd()));
    } else {
      out.println("  at list price (give --list-price USD to compare)");
    }
    if (!"completed".equals(job.state()) || remaining > 0) {
      out.printf(Locale.ROOT, "The job ended unfinished; the %,d results it had are in %s.%n", results.keys().size(), results.path());
      return UNFINISHED;
    }
    return results.failed() > 0 ? FAILED : OK;
  }

  /** Beside the input: {@code batch.jsonl} → {@code batch.results.jsonl}. */
  static Path defaultOutput(Path input) {
    String name = input.getFileName().toString();
    int dot = name.lastIndexOf('.');
    String stem = dot > 0 ? name.substring(0, dot) : name;
    Path dir = input.toAbsolutePath().getParent();
    return dir.resolve(stem + ".results.jsonl");
  }

  /** The same bytes and the same submission (options) give the same key: the node answers with the same job. */
  static String idempotencyKey(String fileSha256, String submissionJson) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(fileSha256.getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(submissionJson.getBytes(StandardCharsets.UTF_8));
      return "keld-jobs-run-" + HexFormat.of().formatHex(sha.digest()).substring(0, 40);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
