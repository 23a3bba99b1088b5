package io.keld.trade.feed;

import io.keld.ixp.CborSerializable;

/**
 * What travels between nodes on the feed's topics: one rendered message body (JSON, without the
 * per-connection sequence number) and what it is about. The body is rendered once for every
 * connection it goes to; each connection only puts its {@code seq} and the type in front.
 *
 * @param type      the message type on the wire ({@code book_delta}, {@code fill}, {@code ask_state})
 * @param useCase   the book it concerns, when it concerns one
 * @param atMillis  the book's time of the view a delta was computed from (0 when not a book message)
 * @param json      the message's members, as a compact JSON object ({@code {...}})
 */
public record FeedEvent(String type, String useCase, long atMillis, String json) implements CborSerializable {

  /** A message rendered for the topics; {@code useCase} and {@code atMillis} as above. */
  public static FeedEvent of(FeedMessage message, String useCase, long atMillis) {
    return new FeedEvent(message.type(), useCase, atMillis, message.membersJson());
  }

  /** The message as sent on one connection: {@code {"seq":…,"type":…,<the members of json>}}, in one copy. */
  String render(long seq) {
    int open = json.indexOf('{');
    int close = json.lastIndexOf('}');
    int first = open + 1;
    while (first < close && Character.isWhitespace(json.charAt(first))) first++;
    boolean empty = first == close;
    StringBuilder text = new StringBuilder(json.length() + type.length() + 40)
        .append("{\"seq\":").append(seq).append(",\"type\":\"").append(type).append('"');
    if (!empty) text.append(',').append(json, open + 1, close);
    return text.append('}').toString();
  }
}
