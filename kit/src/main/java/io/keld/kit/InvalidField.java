package io.keld.kit;

/**
 * Thrown by a request record's own checks: the JSON reader turns it into a 422 problem whose
 * {@code field} names the member to blame.
 */
public class InvalidField extends IllegalArgumentException {

  private final String field;

  public InvalidField(String field, String message) {
    super(message);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
