package io.keld.kit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.util.UUID;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;

/**
 * Turns every error the HTTP layer produces into an RFC 9457 problem+json response: Keld's own
 * problems, Pekko HTTP's rejections (unknown path, wrong method, bad entity, ...) and unexpected
 * exceptions. A client never gets a bare text or HTML error.
 */
public final class ProblemResponses {

  private static final Logger log = LoggerFactory.getLogger(ProblemResponses.class);
  private static final ObjectMapper JSON = Json.PLAIN;
  public static final ContentType PROBLEM_JSON = ContentTypes.parse(Problem.MEDIA_TYPE);

  private ProblemResponses() {}

  public static HttpResponse response(Problem problem) {
    try {
      return HttpResponse.create()
          .withStatus(StatusCodes.get(problem.status()))
          .withEntity(HttpEntities.create(PROBLEM_JSON, JSON.writeValueAsBytes(problem)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a Problem record always serializes", e);
    }
  }

  /** Pekko HTTP's default rejection handling, with each response rewritten as problem+json. */
  public static RejectionHandler rejectionHandler() {
    return RejectionHandler.defaultHandler().mapRejectionResponse(ProblemResponses::asProblem);
  }

  /** Unexpected failures: logged with an id the client can quote, never with request content. */
  public static ExceptionHandler exceptionHandler() {
    return ExceptionHandler.newBuilder()
        .matchAny(
            thrown -> {
              Throwable e = cause(thrown);
              if (e instanceof ProblemException p) {
                return Directives.complete(response(p.problem()));
              }
              if (e instanceof EntityStreamSizeException size) {
                return Directives.complete(response(Problem.of(ProblemType.PAYLOAD_TOO_LARGE,
                    "the body is larger than " + size.limit() + " bytes")));
              }
              if (e instanceof TimeoutException) {
                // An entity (a budget, a book) did not answer in time: the request may be retried.
                return Directives.complete(response(
                    Problem.of(ProblemType.UNAVAILABLE, "Keld did not answer in time; retry the request.")));
              }
              String incident = UUID.randomUUID().toString();
              log.error("Unhandled error in HTTP route (incident {})", incident, e);
              Problem problem =
                  Problem.of(ProblemType.INTERNAL, "An internal error occurred; quote incident " + incident + " when reporting it.");
              return Directives.complete(response(problem));
            })
        .build();
  }

  /** Futures fail with their cause wrapped; the cause is what decides the answer. */
  public static Throwable cause(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static HttpResponse asProblem(HttpResponse response) {
    if (response.entity().getContentType().equals(PROBLEM_JSON)) return response;
    String text = "";
    HttpEntity entity = response.entity();
    if (entity instanceof HttpEntity.Strict strict) text = strict.getData().utf8String();
    int status = response.status().intValue();
    Problem problem = Problem.of(ProblemType.forStatus(status), text.isBlank() ? response.status().reason() : text);
    return response(problem).withHeaders(response.getHeaders());
  }
}
