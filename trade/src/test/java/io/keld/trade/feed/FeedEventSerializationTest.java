package io.keld.trade.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.keld.ixp.CborSerializable;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.SerializerWithStringManifest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Feed events cross nodes on the topics with Pekko's jackson-cbor: the shape they have there, and what a node renders from it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FeedEventSerializationTest {

  /** The event as the previous release sent it (a record of these four members). */
  record PreviousRelease(String type, String useCase, long atMillis, String json) implements CborSerializable {}

  private ActorSystem system;
  private Serialization serialization;

  @BeforeAll
  void start() {
    system = ActorSystem.create("feed-event-serialization", ConfigFactory.load());
    serialization = SerializationExtension.get(system);
  }

  @AfterAll
  void stop() throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void anEventRendersTheSameAfterCrossingToAnotherNode() {
    FeedEvent sent = FeedEvent.of(new FeedMessage.Closing("slow_consumer", "read faster"), "summarize", 1234);
    FeedEvent received = serialization.deserialize(serialization.serialize(sent).get(), FeedEvent.class).get();
    assertEquals(sent, received);
    assertEquals(sent.render(9), received.render(9));
    assertEquals("{\"seq\":9,\"type\":\"closing\",\"reason\":\"slow_consumer\",\"message\":\"read faster\"}", received.render(9));
  }

  @Test
  void nodesOfThisReleaseAndThePreviousOneReadEachOthersEvents() throws Exception {
    SerializerWithStringManifest cbor = (SerializerWithStringManifest) serialization.findSerializerFor(FeedEvent.of(new FeedMessage.Closing("x", "y"), null, 0));
    FeedEvent now = FeedEvent.of(new FeedMessage.Closing("shutdown", "the node is stopping"), "chat", 5);
    PreviousRelease before = new PreviousRelease(now.type(), now.useCase(), now.atMillis(), now.json());

    FeedEvent fromPrevious = (FeedEvent) cbor.fromBinary(cbor.toBinary(before), cbor.manifest(now));
    assertEquals(now, fromPrevious);
    assertEquals("{\"seq\":3,\"type\":\"closing\",\"reason\":\"shutdown\",\"message\":\"the node is stopping\"}", fromPrevious.render(3));

    PreviousRelease toPrevious = (PreviousRelease) cbor.fromBinary(cbor.toBinary(now), cbor.manifest(before));
    assertEquals(before, toPrevious);
  }
}
