package io.keld.node.clearing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.keld.exchange.clearing.ClearingKeyStore;
import io.keld.kit.sql.KeldDatabase;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.marketplace.clearing.FillReceipts;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's clearing keys in the migrated database: created once and found again by every later
 * start, rotated without making old receipts unverifiable.
 */
class ClearingKeyStoreTest {

  @Test
  void keysAreCreatedOnceAndRotationKeepsOldReceiptsVerifiable(@TempDir Path dir) {
    try (TestDatabase test = TestDatabase.h2(dir); KeldDatabase db = KeldDatabase.connect(ConfigFactory.parseMap(test.nodeSettings()))) {
      db.migrate();
      ClearingKeyStore store = new ClearingKeyStore(new Sql(db.dataSource(), Runnable::run), Clock.systemUTC());
      ClearingKeyStore.ClearingKeys first = store.loadOrCreate();
      ClearingKeyStore.ClearingKeys again = store.loadOrCreate();
      assertEquals(first.signer().keyId(), again.signer().keyId(), "a second start finds the same key");
      assertEquals(1, again.published().size());
      assertEquals(first.pseudonyms().provider("summarize", "prv_x"), again.pseudonyms().provider("summarize", "prv_x"),
          "pseudonyms are stable across starts");

      BookEvent.Filled filled = new BookEvent.Filled(new Fill("fil_summarize_1", "job_a.b1", "ask_1", "prv_x", "m", 100_000, 1_000, 10, 20, 9_000, 10,
          null, 1, "1.0"), new Bid("job_a.b1", "summarize", Set.of(), 0, 200_000, 1_000, 9_000, 8_000, Set.of(), Set.of(), Set.of(), Set.of()), 10);
      FillReceipt old = new FillReceipts(first.signer(), first.pseudonyms()).issue("summarize", 7, filled);

      String rotated = store.rotate();
      ClearingKeyStore.ClearingKeys after = store.loadOrCreate();
      assertNotEquals(first.signer().keyId(), rotated);
      assertEquals(rotated, after.signer().keyId(), "the newest key signs after a rotation");
      assertEquals(2, after.published().size(), "the old key stays published");
      assertNull(after.receiptKeys().check(old), "a receipt signed before the rotation still verifies");
      FillReceipt fresh = new FillReceipts(after.signer(), after.pseudonyms()).issue("summarize", 7, filled);
      assertNull(after.receiptKeys().check(fresh));
      assertTrue(after.receiptKeys().check(fresh.signedWith(first.signer().keyId(), fresh.signature())) != null,
          "a signature presented under another key's id fails");
    }
  }
}
