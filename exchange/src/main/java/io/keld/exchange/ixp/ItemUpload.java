package io.keld.exchange.ixp;

import static io.keld.ixp.Texts.clip;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.exchange.jobs.JobStreams;
import io.keld.kit.JsonBodies;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.flow.Operation;
import io.keld.ixp.jobs.ResultLine;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Framing;
import org.apache.pekko.stream.javadsl.FramingTruncation;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.Graph;
import org.apache.pekko.stream.SourceShape;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One upload of the data plane: ndjson lines of {@code {custom_id, body}} in, one ndjson result line
 * per item out. Lines are framed and parsed only as fast as the job's provider admits items
 * (backpressure from Flow reaches the socket). A line that cannot be an item gets its own error
 * line and is not sent; a problem with the upload itself (a line too long, too many items) ends
 * the upload with a last line that names it, and leaves the job running for a resumed upload.
 *
 * <p>Content passes through in memory: no line, body or answer is logged or stored.
 */
final class ItemUpload {

  /** Ends the items of an upload early; the job is left running, so the client can resume. */
  static final class Aborted extends RuntimeException {
    Aborted() {
      super("upload aborted", null, false, false);
    }
  }

  private static final ObjectMapper JSON = JsonBodies.MAPPER;
  private static final ByteString NEWLINE = ByteString.fromString("\n");

  private final JobStreams streams;
  private final int maxLineBytes;
  private final int maxItems;
  private final Materializer materializer;

  ItemUpload(JobStreams streams, int maxLineBytes, int maxItems, Materializer materializer) {
    this.streams = streams;
    this.maxLineBytes = maxLineBytes;
    this.maxItems = maxItems;
    this.materializer = materializer;
  }

  /** How result lines are written: Keld's {@link ResultLine}s, or OpenAI Batch output lines ({@link OpenAiBatchLines}). */
  enum Format { KELD, OPENAI }

  /**
   * The response body for one upload of {@code jobId}: ndjson result lines. {@code operation} is the
   * job's (from its use case): a line whose {@code url} names another is that line's error.
   */
  Source<ByteString, NotUsed> run(String jobId, Operation operation, Format format, Source<ByteString, ?> body) {
    // Error lines for items that were never sent travel beside the results.
    Pair<SourceQueueWithComplete<ResultLine>, Source<ResultLine, NotUsed>> side =
        Source.<ResultLine>queue(256, OverflowStrategy.backpressure()).preMaterialize(materializer);
    SourceQueueWithComplete<ResultLine> errors = side.first();
    Upload upload = new Upload();

    Source<Item, ?> items = body
        .via(Framing.delimiter(NEWLINE, maxLineBytes, FramingTruncation.ALLOW))
        .recoverWithRetries(1, new PFBuilder<Throwable, Graph<SourceShape<ByteString>, NotUsed>>()
            .match(org.apache.pekko.stream.scaladsl.Framing.FramingException.class, e -> {
              upload.abort("line_too_long", "a line is longer than " + maxLineBytes + " bytes, or the upload broke off inside one",
                  upload.lineNo + 1);
              return Source.empty();
            })
            .build())
        .takeWhile(bytes -> !upload.aborted)
        .mapAsync(1, bytes -> {
          long n = ++upload.lineNo;
          if (isBlank(bytes)) return CompletableFuture.completedFuture(Optional.<Item>empty());
          if (++upload.items > maxItems) {
            upload.abort("too_many_items", "an upload holds at most " + maxItems + " items; send the rest in another upload", n);
            return CompletableFuture.completedFuture(Optional.<Item>empty());
          }
          Parsed p = parse(bytes, n, upload.seen, operation);
          if (p.error() != null) return errors.offer(p.error()).thenApply(x -> Optional.<Item>empty());
          upload.sent.incrementAndGet();
          return CompletableFuture.completedFuture(Optional.of(p.item()));
        })
        .filter(Optional::isPresent)
        .map(Optional::get)
        // An aborted upload ends in a failure, so the job is not completed by it and a resumed upload
        // can follow; but only after the items already sent have their results.
        .concatLazy(Source.lazySource(() -> upload.aborted
            ? Source.completionStage(upload.drained).flatMapConcat(x -> Source.<Item>failed(new Aborted()))
            : Source.<Item>empty()))
        .watchTermination((mat, done) -> {
          done.whenComplete((d, failure) -> errors.complete());
          return mat;
        });

    Source<ResultLine, NotUsed> results = streams.run(jobId, items)
        .map(r -> {
          upload.answered();
          return resultLine(r);
        })
        .recoverWithRetries(1, new PFBuilder<Throwable, Graph<SourceShape<ResultLine>, NotUsed>>()
            .match(Throwable.class, ItemUpload::abortedUpload, e -> Source.empty())
            .match(JobStreams.JobEnded.class, e -> Source.single(uploadError("job_ended", e.getMessage(), null)))
            .build());
    // The upload's own problem, if it had one, is the last line.
    return results.merge(side.second())
        .concatLazy(Source.lazySource(() -> upload.problem == null ? Source.<ResultLine>empty() : Source.single(upload.problem)))
        .map(format == Format.OPENAI ? ItemUpload::openAiLine : ItemUpload::line);
  }

  /** What one upload has read, sent and had answered; touched by its stream's stages only. */
  private static final class Upload {
    final Set<String> seen = new HashSet<>();
    final AtomicLong sent = new AtomicLong();
    final AtomicLong answeredCount = new AtomicLong();
    final CompletableFuture<Void> drained = new CompletableFuture<>();
    volatile boolean aborted;
    volatile ResultLine problem;
    long lineNo;
    long items;

    void abort(String code, String message, long line) {
      if (aborted) return;
      aborted = true;
      problem = uploadError(code, message, line);
      if (answeredCount.get() >= sent.get()) drained.complete(null);
    }

    void answered() {
      if (answeredCount.incrementAndGet() >= sent.get() && aborted) drained.complete(null);
    }
  }

  /** The upload's own abort, however the stages on the way wrapped it. */
  private static boolean abortedUpload(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof Aborted) return true;
    return false;
  }

  private record Parsed(Item item, ResultLine error) {}

  private static Parsed parse(ByteString bytes, long n, Set<String> seen, Operation jobOperation) {
    JsonNode node;
    try {
      node = JSON.readTree(bytes.toArrayUnsafe());
    } catch (Exception e) {
      return new Parsed(null, lineError(null, "invalid_line", "line " + n + " is not JSON", n));
    }
    if (node == null || !node.isObject()) return new Parsed(null, lineError(null, "invalid_line", "line " + n + " is not a JSON object", n));
    JsonNode id = node.get("custom_id");
    if (id == null || !id.isTextual() || id.asText().isEmpty() || id.asText().length() > 256) {
      return new Parsed(null, lineError(null, "invalid_line", "line " + n + " needs a custom_id: a string of 1 to 256 characters", n));
    }
    String customId = id.asText();
    var names = node.fieldNames();
    while (names.hasNext()) {
      String f = names.next();
      if (!Set.of("custom_id", "body", "url", "method").contains(f)) {
        return new Parsed(null, lineError(customId, "invalid_line", "unknown member '" + f + "'; a line has custom_id, body, and optionally url and method", n));
      }
    }
    JsonNode body = node.get("body");
    if (body == null || !body.isObject()) return new Parsed(null, lineError(customId, "invalid_line", "line " + n + " needs a body: a JSON object", n));
    Operation op;
    JsonNode url = node.get("url");
    if (url != null && !url.isNull()) {
      String u = url.asText();
      if (u.equals("/v1/chat/completions")) op = Operation.CHAT_COMPLETIONS;
      else if (u.equals("/v1/embeddings")) op = Operation.EMBEDDINGS;
      else return new Parsed(null, lineError(customId, "invalid_line", "url must be /v1/chat/completions or /v1/embeddings", n));
      if (op != jobOperation) {
        return new Parsed(null, lineError(customId, "url_mismatch", "line " + n + " is for " + u + " but this job runs "
            + urlOf(jobOperation) + " (its use case decides: embed runs /v1/embeddings, the others /v1/chat/completions)", n));
      }
    } else if (body.has("input")) {
      op = Operation.EMBEDDINGS;
    } else if (body.has("messages")) {
      op = Operation.CHAT_COMPLETIONS;
    } else {
      return new Parsed(null, lineError(customId, "invalid_line", "the body needs messages (chat) or input (embeddings)", n));
    }
    JsonNode method = node.get("method");
    if (method != null && !method.isNull() && !"POST".equals(method.asText())) {
      return new Parsed(null, lineError(customId, "invalid_line", "method must be POST", n));
    }
    if (op == Operation.CHAT_COMPLETIONS && !body.get("messages").isArray()) {
      return new Parsed(null, lineError(customId, "invalid_line", "messages must be an array", n));
    }
    if (!seen.add(customId)) {
      return new Parsed(null, lineError(customId, "duplicate_custom_id", "custom_id '" + clip(customId) + "' appears twice in this upload", n));
    }
    return new Parsed(Item.of(customId, op, (ObjectNode) body), null);
  }

  static String urlOf(Operation op) {
    return op == Operation.EMBEDDINGS ? "/v1/embeddings" : "/v1/chat/completions";
  }

  private static ResultLine resultLine(ItemResult r) {
    if (r.ok()) return new ResultLine(r.customId(), new ResultLine.Response(200, r.response()), null);
    return new ResultLine(r.customId(), null, new ResultLine.Error(r.error().type(), r.error().code(), r.error().message(), null));
  }

  private static ResultLine lineError(String customId, String code, String message, long line) {
    return new ResultLine(customId, null, new ResultLine.Error("invalid_request_error", code, message, line));
  }

  private static ResultLine uploadError(String code, String message, Long line) {
    return new ResultLine(null, null, new ResultLine.Error("invalid_request_error", code, message, line));
  }

  private static ByteString line(ResultLine r) {
    try {
      return ByteString.fromArrayUnsafe(JSON.writeValueAsBytes(r)).concat(NEWLINE);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a result line always serializes", e);
    }
  }

  private static ByteString openAiLine(ResultLine r) {
    try {
      return ByteString.fromArrayUnsafe(JSON.writeValueAsBytes(OpenAiBatchLines.of(r))).concat(NEWLINE);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a result line always serializes", e);
    }
  }

  private static boolean isBlank(ByteString b) {
    for (int i = 0; i < b.size(); i++) {
      byte c = b.apply(i);
      if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return true;
  }

}
