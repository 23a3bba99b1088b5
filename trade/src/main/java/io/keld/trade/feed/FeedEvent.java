package io.keld.trade.feed;

import io.keld.ixp.CborSerializable;

/**
 * What travels between nodes on the feed's topics: one rendered message body (JSON, without the
 * per-connection sequence number) and what it is about.
 *
 * @param type      the message type on the wire ({@code book_delta}, {@code fill}, {@code ask_state})
 * @param useCase   the book it concerns, when it concerns one
 * @param atMillis  the book's time of the view a delta was computed from (0 when not a book message)
 * @param json      the message's members, as a JSON object
 */
public record FeedEvent(String type, String useCase, long atMillis, String json) implements CborSerializable {}
