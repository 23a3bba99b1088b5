package io.keld.trade.feed;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.keld.ixp.CborSerializable;
import java.util.Objects;

/**
 * What travels between nodes on the feed's topics: one rendered message body (JSON, without the
 * per-connection sequence number) and what it is about. The message is rendered once for every
 * connection it goes to, all but its {@code seq}, which each connection puts in front: a delta to
 * 200 subscribers is one JSON rendering and 200 copies of its text, each made in one pass.
 *
 * <p>On the wire between nodes it is {@code type}, {@code useCase}, {@code atMillis} and
 * {@code json}, as when it was a record, so nodes of the previous release and this one can share a
 * cluster during a rolling update; the text after the seq is derived on each node.
 */
public final class FeedEvent implements CborSerializable {

  private final String type;
  private final String useCase;
  private final long atMillis;
  private final String json;
  /** The message's text after its {@code seq}: {@code ,"type":"…",<the members of json>}}. */
  @JsonIgnore
  private final String afterSeq;

  /**
   * @param type     the message type on the wire ({@code book_delta}, {@code fill}, {@code ask_state})
   * @param useCase  the book it concerns, when it concerns one
   * @param atMillis the book's time of the view a delta was computed from (0 when not a book message)
   * @param json     the message's members, as a compact JSON object ({@code {...}})
   */
  @JsonCreator
  public FeedEvent(@JsonProperty("type") String type, @JsonProperty("useCase") String useCase, @JsonProperty("atMillis") long atMillis,
      @JsonProperty("json") String json) {
    this.type = type;
    this.useCase = useCase;
    this.atMillis = atMillis;
    this.json = json;
    this.afterSeq = afterSeq(type, json);
  }

  /** A message rendered for the topics; {@code useCase} and {@code atMillis} as above. */
  public static FeedEvent of(FeedMessage message, String useCase, long atMillis) {
    return new FeedEvent(message.type(), useCase, atMillis, message.membersJson());
  }

  @JsonProperty("type")
  public String type() {
    return type;
  }

  @JsonProperty("useCase")
  public String useCase() {
    return useCase;
  }

  @JsonProperty("atMillis")
  public long atMillis() {
    return atMillis;
  }

  @JsonProperty("json")
  public String json() {
    return json;
  }

  /** {@code ,"type":"…"} and the members of {@code membersJson} (a JSON object), then the closing brace. */
  private static String afterSeq(String type, String membersJson) {
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

  @Override
  public boolean equals(Object o) {
    return o instanceof FeedEvent e && atMillis == e.atMillis && type.equals(e.type) && Objects.equals(useCase, e.useCase) && json.equals(e.json);
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, useCase, atMillis, json);
  }

  @Override
  public String toString() {
    return "FeedEvent[type=" + type + ", useCase=" + useCase + ", atMillis=" + atMillis + "]";
  }
}
