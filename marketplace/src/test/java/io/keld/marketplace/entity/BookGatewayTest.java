package io.keld.marketplace.entity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The gateway batches what arrives while a write is in flight, and sheds load past its bound. */
class BookGatewayTest {

  private static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void tearDown() {
    testKit.shutdownTestKit();
  }

  @Test
  void batchesWhileAWriteIsInFlightAndRefusesPastItsBound() {
    TestProbe<OrderBook.Command> book = testKit.createTestProbe();
    TestProbe<StatusReply<BookResult>> callers = testKit.createTestProbe();
    int maxBatch = 2; // so at most 40 operations wait
    ActorRef<BookGateway.Command> gateway = testKit.spawn(BookGateway.create(book.ref(), maxBatch, Duration.ofSeconds(5)));

    for (int i = 0; i < 45; i++) gateway.tell(new BookGateway.Submit(new BookOp.CancelBid("job_" + i), callers.ref()));

    // The first goes alone; 40 wait; the last 4 are refused at once.
    OrderBook.Execute first = book.expectMessageClass(OrderBook.Execute.class);
    assertEquals(1, first.ops().size());
    List<StatusReply<BookResult>> refused = new ArrayList<>();
    for (int i = 0; i < 4; i++) refused.add(callers.receiveMessage());
    assertTrue(refused.stream().allMatch(StatusReply::isError));
    assertTrue(refused.get(0).getError().getMessage().contains("overloaded"), refused.get(0).getError().getMessage());

    // When the write is answered, the next batch goes, as large as maxBatch.
    BookResult ok = new BookResult.Accepted(List.of());
    first.replyTo().tell(new OrderBook.ExecuteReply(List.of(ok)));
    assertTrue(callers.receiveMessage().isSuccess());
    OrderBook.Execute second = book.expectMessageClass(OrderBook.Execute.class);
    assertEquals(maxBatch, second.ops().size());
    assertEquals(new BookOp.CancelBid("job_1"), second.ops().get(0), "in arrival order");
  }
}
