package io.keld.trade.feed;

import io.keld.ixp.CborSerializable;

/**
 * What travels between nodes on the feed's topics: one rendered message body (JSON, without the
 * per-connection sequence number) and what it is about. The body is rendered once for every
 * connection it goes to, and kept as the members of its JSON object without the braces, so that
 * each connection only puts its {@code seq} and the type in front (one copy per connection).
 *
 * @param type      the message type on the wire ({@code book_delta}, {@code fill}, {@code ask_state})
 * @param useCase   the book it concerns, when it concerns one
 * @param atMillis  the book's time of the view a delta was computed from (0 when not a book message)
 * @param members   the message's members: a JSON object's text without its outer braces (may be empty)
 */
public record FeedEvent(String type, String useCase, long atMillis, String members) implements CborSerializable {

  /** An event whose body is {@code jsonObject}, a JSON object as compact text ({@code {...}}). */
  public static FeedEvent of(String type, String useCase, long atMillis, String jsonObject) {
    if (jsonObject.length() < 2 || jsonObject.charAt(0) != '{' || jsonObject.charAt(jsonObject.length() - 1) != '}') {
      throw new IllegalArgumentException("not a JSON object: " + jsonObject);
    }
    return new FeedEvent(type, useCase, atMillis, jsonObject.substring(1, jsonObject.length() - 1));
  }

  /** The message as sent on one connection: {@code {"seq":…,"type":…,<members>}}. */
  String render(long seq) {
    StringBuilder text = new StringBuilder(members.length() + type.length() + 40)
        .append("{\"seq\":").append(seq).append(",\"type\":\"").append(type).append('"');
    if (!members.isEmpty()) text.append(',').append(members);
    return text.append('}').toString();
  }
}
