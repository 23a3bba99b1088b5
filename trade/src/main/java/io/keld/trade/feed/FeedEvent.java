package io.keld.trade.feed;

import io.keld.ixp.CborSerializable;

/**
 * What travels between nodes on the feed's topics: one rendered message and what it is about. The
 * message is rendered once for every connection it goes to, all but its per-connection sequence
 * number, which each connection puts in front: a delta to 200 subscribers is one JSON rendering and
 * 200 copies of its text, each made in one pass.
 *
 * @param type      the message type on the wire ({@code book_delta}, {@code fill}, {@code ask_state})
 * @param useCase   the book it concerns, when it concerns one
 * @param atMillis  the book's time of the view a delta was computed from (0 when not a book message)
 * @param afterSeq  the message's text after its {@code seq}: {@code ,"type":"…",<its members>}}
 */
public record FeedEvent(String type, String useCase, long atMillis, String afterSeq) implements CborSerializable {

  /** A message rendered for the topics; {@code useCase} and {@code atMillis} as above. */
  public static FeedEvent of(FeedMessage message, String useCase, long atMillis) {
    return new FeedEvent(message.type(), useCase, atMillis, afterSeq(message.type(), message.membersJson()));
  }

  /** {@code ,"type":"…"} and the members of {@code membersJson} (a JSON object), then the closing brace. */
  static String afterSeq(String type, String membersJson) {
    int open = membersJson.indexOf('{');
    int close = membersJson.lastIndexOf('}');
    int first = open + 1;
    while (first < close && Character.isWhitespace(membersJson.charAt(first))) first++;
    StringBuilder text = new StringBuilder(membersJson.length() + type.length() + 12).append(",\"type\":\"").append(type).append('"');
    if (first != close) text.append(',').append(membersJson, open + 1, close);
    return text.append('}').toString();
  }

  /** The message as sent on one connection: {@code {"seq":…,"type":…,…}}, in one allocation and one copy of the shared text. */
  String render(long seq) {
    return "{\"seq\":" + seq + afterSeq;
  }
}
