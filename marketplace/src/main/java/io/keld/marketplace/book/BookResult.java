package io.keld.marketplace.book;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.keld.ixp.CborSerializable;
import java.util.List;

/** How a book answered one operation: the events it caused, or why it refused. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = BookResult.Accepted.class, name = "Accepted"),
  @JsonSubTypes.Type(value = BookResult.Rejected.class, name = "Rejected")
})
public sealed interface BookResult extends CborSerializable {

  record Accepted(List<BookEvent> events) implements BookResult {}

  record Rejected(Reason reason, String detail) implements BookResult {}

  enum Reason {
    INVALID,
    WRONG_USE_CASE,
    DUPLICATE_ID,
    UNKNOWN_ASK,
    NOT_YOUR_ASK,
    UNKNOWN_BID,
    BID_NOT_RESTING,
    UNKNOWN_FILL
  }

  static Rejected rejected(Reason reason, String detail) {
    return new Rejected(reason, detail);
  }
}
