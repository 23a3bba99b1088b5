package io.keld.marketplace.clearing;

import io.keld.marketplace.book.BookEvent.Filled;

/** Issues the signed receipt of a fill: its content under the book's pseudonyms, signed with the cluster's current key. */
public record FillReceipts(ReceiptSigner signer, Pseudonyms pseudonyms) {

  public FillReceipt issue(String book, long seq, Filled filled) {
    return signer.sign(FillReceipt.of(book, seq, filled, pseudonyms));
  }
}
