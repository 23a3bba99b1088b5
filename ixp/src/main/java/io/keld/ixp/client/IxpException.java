package io.keld.ixp.client;

import java.io.IOException;

/**
 * The node answered with a problem (RFC 9457): its status, stable {@code type} and human
 * {@code detail}, and the offending {@code field} when one is to blame.
 */
public final class IxpException extends IOException {

  private final int status;
  private final String type;
  private final String detail;
  private final String field;
  private final String jobId;

  public IxpException(int status, String type, String detail, String field, String jobId) {
    super(status + (detail != null ? ": " + detail : "") + (field != null ? " (field " + field + ")" : ""));
    this.status = status;
    this.type = type;
    this.detail = detail;
    this.field = field;
    this.jobId = jobId;
  }

  public int status() {
    return status;
  }

  /** The problem's type URI, e.g. {@code https://keld.io/problems/invalid-request}; may be null for a non-problem answer. */
  public String type() {
    return type;
  }

  public String detail() {
    return detail;
  }

  public String field() {
    return field;
  }

  /** The job a refusal concerns, when the node named one. */
  public String jobId() {
    return jobId;
  }
}
