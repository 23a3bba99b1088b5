package io.keld.ixp.problem;

/**
 * The stable problem types of the protocol. A type's URI never changes meaning; new kinds of error
 * get new types. The URIs are documented in {@code ixp/spec/}.
 */
public enum ProblemType {
  BAD_REQUEST("bad-request", "The request is malformed", 400),
  INVALID_FIELD("invalid-field", "A field has an invalid value", 422),
  UNAUTHORIZED("unauthorized", "Authentication is required", 401),
  FORBIDDEN("forbidden", "Not allowed", 403),
  NOT_FOUND("not-found", "No such resource", 404),
  METHOD_NOT_ALLOWED("method-not-allowed", "Method not allowed", 405),
  NOT_ACCEPTABLE("not-acceptable", "Cannot produce an acceptable representation", 406),
  UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", "Unsupported media type", 415),
  PAYLOAD_TOO_LARGE("payload-too-large", "The request body is too large", 413),
  CONFLICT("conflict", "The request conflicts with the current state", 409),
  /** A reservation would take a scope past its hard cap or token quota; members name the scope and the figures. */
  BUDGET_EXCEEDED("budget-exceeded", "A budget would be exceeded", 402),
  NOT_READY("not-ready", "The node is not ready", 503),
  UNAVAILABLE("unavailable", "Temporarily unavailable; retry", 503),
  INTERNAL("internal", "Internal error", 500);

  /** Base of every problem type URI. */
  public static final String BASE_URI = "https://keld.io/problems/";

  private final String slug;
  private final String title;
  private final int status;

  ProblemType(String slug, String title, int status) {
    this.slug = slug;
    this.title = title;
    this.status = status;
  }

  public String uri() {
    return BASE_URI + slug;
  }

  public String title() {
    return title;
  }

  public int status() {
    return status;
  }

  /** The type for a status code Keld did not pick itself (e.g. one the HTTP layer produced). */
  public static ProblemType forStatus(int status) {
    for (ProblemType t : values()) {
      if (t.status == status) return t;
    }
    return status >= 500 ? INTERNAL : BAD_REQUEST;
  }
}
