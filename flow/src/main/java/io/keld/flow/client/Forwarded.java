package io.keld.flow.client;

import io.keld.flow.Usage;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * What a real-time forward ({@link ProviderClient#forward}) came to. Every outcome names the route
 * it ended on, as an index into the routes the caller gave.
 */
public sealed interface Forwarded {

  /** The index of the route this outcome is about. */
  int route();

  /**
   * The provider answered and the answer was read whole (a request that does not stream, or any
   * answer that is not a 2xx). Its {@link #outcome} is worked out (from the body's JSON) only when
   * asked for: a proxy that passes the answer on needs only the status, the bytes and the usage.
   */
  final class Answered implements Forwarded {
    private final int route;
    private final StatusCode status;
    private final ContentType contentType;
    private final byte[] body;
    private final Optional<Usage> usage;
    private Supplier<Attempt> classification;
    private Attempt outcome;

    /**
     * @param body           the answer's bytes as they came: content, never logged
     * @param usage          the provider's {@code usage} object, if the body is JSON carrying one (a count it leaves out reads 0)
     * @param classification what {@link ProviderClient}'s classification makes of the answer: {@link Attempt.Answered} for a
     *                       2xx JSON object, else {@link Attempt.Failed} with its kind, error and {@code Retry-After}
     */
    public Answered(int route, StatusCode status, ContentType contentType, byte[] body, Optional<Usage> usage, Supplier<Attempt> classification) {
      this.route = route;
      this.status = status;
      this.contentType = contentType;
      this.body = body;
      this.usage = usage;
      this.classification = classification;
    }

    @Override
    public int route() {
      return route;
    }

    public StatusCode status() {
      return status;
    }

    public ContentType contentType() {
      return contentType;
    }

    public byte[] body() {
      return body;
    }

    public Optional<Usage> usage() {
      return usage;
    }

    /** The answer classified as {@link ProviderClient} classifies any attempt; worked out on the first call. */
    public synchronized Attempt outcome() {
      if (outcome == null) {
        outcome = classification.get();
        classification = null;
      }
      return outcome;
    }

    @Override
    public String toString() {
      return "Answered[route=" + route + ", status=" + status + ", usage=" + usage + ", body=<redacted>]";
    }
  }

  /**
   * The provider accepted a streamed request (2xx) and its events are passing through.
   *
   * @param body  the upstream entity's bytes, handed on as they arrive; run it exactly once (until it
   *              runs, the connection is held)
   * @param usage completes when {@code body} ends, with the usage read as the stream passed
   */
  record Streaming(int route, StatusCode status, ContentType contentType, Source<ByteString, NotUsed> body, CompletionStage<StreamEnd> usage)
      implements Forwarded {}

  /**
   * No answer came from the last route tried: it could not be resolved or reached, or did not
   * answer in time.
   *
   * @param kind   {@link Attempt.Failure#CONNECTION} or {@link Attempt.Failure#TIMEOUT}
   * @param reason why, in words, without any content ({@code no answer in time} for a timeout)
   */
  record Unreachable(int route, Attempt.Failure kind, String reason) implements Forwarded {}

  /** The provider started to answer a request that does not stream, and the answer broke off (or was not read in time). */
  record BrokeOff(int route, StatusCode status, String reason) implements Forwarded {}

  /** The time allowed ran out before this route could be tried. */
  record DeadlinePassed(int route) implements Forwarded {}

  /**
   * How a passed-through stream ended.
   *
   * @param usage      the usage of the stream's last chunk that carried one, if any did
   * @param dataChunks the {@code data:} events seen, {@code [DONE]} aside: about one per token, for
   *                   a caller to estimate with when a provider sends no usage
   * @param brokeOff   the stream failed before it ended
   */
  record StreamEnd(Optional<Usage> usage, long dataChunks, boolean brokeOff) {}
}
