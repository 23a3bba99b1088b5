package io.keld.marketplace.clearing;

import io.keld.ixp.CborSerializable;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.book.Fill;
import java.nio.charset.StandardCharsets;

/**
 * What the cluster signs for one fill: where it is in the book's log ({@code book}, {@code seq}), the
 * rule version that cleared it, the bid and ask terms that mattered, the price, the best competing
 * price, the number of feasible asks and the time. Identities are the book's pseudonyms (as in the
 * public log), so a receipt can be shown to anyone without naming its parties; the fill id is in clear.
 *
 * <p>The signature is Ed25519 over {@link #signedContent()}: fixed lines {@code name=value}, in the
 * order of this record, UTF-8, after the line {@code keld-fill-receipt/1} (MATCHING.md).
 */
public record FillReceipt(
    String book,
    long seq,
    String ruleVersion,
    String fillId,
    String bidId,
    String askId,
    String providerId,
    String model,
    long pricePerMtok,
    long tokens,
    long startMillis,
    long finishMillis,
    long deadlineMillis,
    Long ceilingPerMtok,
    Integer minQuality,
    Long bestCompetingPricePerMtok,
    int feasibleAsks,
    long filledAtMillis,
    String keyId,
    String signature)
    implements CborSerializable {

  public static final String FORMAT = "keld-fill-receipt/1";

  /** The unsigned receipt of the fill persisted at {@code seq} of {@code book}'s log. */
  public static FillReceipt of(String book, long seq, Filled filled, Pseudonyms pseudonyms) {
    Fill f = filled.fill();
    Bid bid = filled.bid();
    return new FillReceipt(book, seq, f.ruleVersion(), f.fillId(), pseudonyms.bid(book, f.bidId()), pseudonyms.ask(book, f.askId()),
        pseudonyms.provider(book, f.providerId()), f.model(), f.pricePerMtok(), f.tokens(), f.startMillis(), f.finishMillis(),
        f.deadlineMillis(), bid == null ? null : bid.ceilingPerMtok(), bid == null ? null : bid.minQuality(),
        f.bestCompetingPricePerMtok(), f.feasibleAsks(), f.filledAtMillis(), null, null);
  }

  public FillReceipt signedWith(String keyId, String signature) {
    return new FillReceipt(book, seq, ruleVersion, fillId, bidId, askId, providerId, model, pricePerMtok, tokens, startMillis, finishMillis,
        deadlineMillis, ceilingPerMtok, minQuality, bestCompetingPricePerMtok, feasibleAsks, filledAtMillis, keyId, signature);
  }

  /** The bytes the signature covers; the key id is among them, so a signature cannot be moved to another key's name. */
  public byte[] signedContent() {
    StringBuilder s = new StringBuilder(512).append(FORMAT).append('\n');
    line(s, "book", book);
    line(s, "seq", seq);
    line(s, "ruleVersion", ruleVersion);
    line(s, "fillId", fillId);
    line(s, "bidId", bidId);
    line(s, "askId", askId);
    line(s, "providerId", providerId);
    line(s, "model", model);
    line(s, "pricePerMtok", pricePerMtok);
    line(s, "tokens", tokens);
    line(s, "startMillis", startMillis);
    line(s, "finishMillis", finishMillis);
    line(s, "deadlineMillis", deadlineMillis);
    line(s, "ceilingPerMtok", ceilingPerMtok);
    line(s, "minQuality", minQuality);
    line(s, "bestCompetingPricePerMtok", bestCompetingPricePerMtok);
    line(s, "feasibleAsks", feasibleAsks);
    line(s, "filledAtMillis", filledAtMillis);
    line(s, "keyId", keyId);
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void line(StringBuilder s, String name, Object value) {
    // Ids never hold a newline (the book refuses blank and over-long ids; MATCHING.md): escape anyway.
    String v = value == null ? "" : value.toString().replace("\\", "\\\\").replace("\n", "\\n");
    s.append(name).append('=').append(v).append('\n');
  }
}
