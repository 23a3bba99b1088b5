package io.keld.exchange.edge;

import static io.keld.ixp.Texts.clip;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.Json;
import io.keld.kit.ProblemException;
import io.keld.ixp.problem.Problem;
import java.util.UUID;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import io.keld.kit.ProblemResponses;
import java.util.concurrent.TimeoutException;

/**
 * Errors on {@code /v1} in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}},
 * with the status OpenAI would use, so the SDKs raise their usual exception classes
 * (BadRequestError, AuthenticationError, NotFoundError, RateLimitError, ...).
 */
public final class OpenAiError extends RuntimeException {

  private static final Logger log = LoggerFactory.getLogger(OpenAiError.class);
  private static final ObjectMapper JSON = Json.PLAIN;

  private final int status;
  private final String type;
  private final String code;
  private final String param;
  private final boolean retryable;

  public OpenAiError(int status, String type, String code, String param, String message, boolean retryable) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
    this.retryable = retryable;
  }

  public static OpenAiError invalid(String param, String message) {
    return new OpenAiError(400, "invalid_request_error", "invalid_value", param, message, false);
  }

  public static OpenAiError modelNotFound(String model, String known) {
    return new OpenAiError(404, "invalid_request_error", "model_not_found", "model",
        "The model '" + clip(model) + "' does not exist on Keld. " + known, false);
  }

  /** A budget refused the spend: OpenAI's answer to an exhausted quota, not to be retried. */
  public static OpenAiError insufficientQuota(String message) {
    return new OpenAiError(429, "insufficient_quota", "insufficient_quota", null, message, false);
  }

  public static OpenAiError noCapacity(String message) {
    return new OpenAiError(503, "server_error", "no_capacity", null, message, true);
  }

  public static OpenAiError provider(int status, String message) {
    return new OpenAiError(status, "server_error", "provider_error", null, message, true);
  }

  public HttpResponse response() {
    ObjectNode body = JSON.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", getMessage());
    error.put("type", type);
    if (param != null) error.put("param", param); else error.putNull("param");
    if (code != null) error.put("code", code); else error.putNull("code");
    HttpResponse r = HttpResponse.create().withStatus(StatusCodes.get(status))
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
    // The SDKs retry 429 and 5xx unless told not to; a refused budget stays refused.
    return r.addHeader(RawHeader.create("x-should-retry", retryable ? "true" : "false"));
  }

  /** The OpenAI error a Keld problem becomes on /v1. */
  public static OpenAiError of(Problem p) {
    String type = switch (p.status()) {
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "invalid_request_error";
      case 402, 429 -> "insufficient_quota";
      default -> p.status() >= 500 ? "server_error" : "invalid_request_error";
    };
    int status = p.status() == 402 ? 429 : p.status() == 422 || p.status() == 415 || p.status() == 413 ? 400 : p.status();
    String code = switch (p.status()) {
      case 401 -> "invalid_api_key";
      case 402 -> "insufficient_quota";
      case 404 -> "not_found";
      case 413 -> "request_too_large";
      default -> p.status() >= 500 ? "server_error" : "invalid_value";
    };
    return new OpenAiError(status, type, code, p.field(), p.detail() == null ? p.title() : p.detail(), p.status() >= 500);
  }

  /** Every failure under /v1 answered in OpenAI's shape; unexpected ones logged with an incident id, never with content. */
  public static ExceptionHandler exceptionHandler() {
    return ExceptionHandler.newBuilder().matchAny(thrown -> {
      Throwable e = ProblemResponses.cause(thrown);
      if (e instanceof OpenAiError o) return Directives.complete(o.response());
      if (e instanceof ProblemException p) return Directives.complete(of(p.problem()).response());
      if (e instanceof TimeoutException) {
        return Directives.complete(new OpenAiError(503, "server_error", "timeout", null, "Keld did not answer in time; retry the request.", true).response());
      }
      String incident = UUID.randomUUID().toString();
      log.error("Unhandled error on the OpenAI edge (incident {})", incident, e);
      return Directives.complete(new OpenAiError(500, "server_error", "internal_error", null,
          "An internal error occurred; quote incident " + incident + " when reporting it.", true).response());
    }).build();
  }

  /** Pekko HTTP's rejections (wrong method, unknown path, bad entity) rewritten in OpenAI's shape. */
  public static RejectionHandler rejectionHandler() {
    return RejectionHandler.defaultHandler().mapRejectionResponse(r -> {
      String text = "";
      HttpEntity entity = r.entity();
      if (entity instanceof HttpEntity.Strict strict) text = strict.getData().utf8String();
      int status = r.status().intValue();
      String type = status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error";
      String code = status == 404 ? "unknown_url" : status == 405 ? "method_not_allowed" : status == 401 ? "invalid_api_key" : "invalid_value";
      return new OpenAiError(status == 415 || status == 413 ? 400 : status, type, code, null, text.isBlank() ? r.status().reason() : text,
          false).response().withHeaders(r.getHeaders());
    });
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }

}
