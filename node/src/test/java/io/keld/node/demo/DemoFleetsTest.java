package io.keld.node.demo;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.flow.JobProgress;
import io.keld.flow.Operation;
import io.keld.flow.Route;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.marketplace.book.BookView;
import io.keld.node.KeldNode;
import io.keld.testkit.TestDatabase;
import io.keld.node.testing.TestNodes;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.Test;

/** {@code keld start --demo}: the fleets run, their asks are on the books, and Flow reaches them through the node. */
class DemoFleetsTest {

  @Test
  void theDemoFleetsPostAsksAndAnswerWorkThroughTheNodesFlow() throws Exception {
    try (TestDatabase db = TestDatabase.h2(Files.createTempDirectory("keld-demo"))) {
      KeldNode node = TestNodes.startReady(TestNodes.config(db, null));
      try {
        DemoFleets demo = DemoFleets.start(node);
        assertEquals(3, demo.running().size());
        assertTrue(demo.describe().contains("prv_demo_swift"));

        BookView summarize = node.books().view("summarize").toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(List.of(300_000L, 1_200_000L), summarize.asks().stream().map(BookView.PriceLevel::pricePerMtok).toList());
        BookView embed = node.books().view("embed").toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(1, embed.asks().size());

        // A second start finds its asks already there instead of doubling them.
        DemoFleets again = DemoFleets.start(node);
        assertTrue(again.running().get(0).posted().get(0).contains("already on the book"));
        assertEquals(2, node.books().view("summarize").toCompletableFuture().get(10, TimeUnit.SECONDS).asks().size());

        DemoFleets.Running swift = demo.running().get(0);
        ObjectNode body = new ObjectMapper().createObjectNode().put("model", "anything").put("max_tokens", 5);
        body.putArray("messages").addObject().put("role", "user").put("content", "hello demo");
        List<ItemResult> results = node.flow()
            .open("job_demo", Instant.now().plusSeconds(60), new Route(new ProviderEndpoint("prv_demo_swift", swift.fleet().baseUrl(), null), "sim-small"),
                JobProgress.IGNORE)
            .dispatch(Source.single(Item.of("one", Operation.CHAT_COMPLETIONS, body)))
            .runWith(Sink.seq(), node.system()).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(1, results.size());
        assertTrue(results.get(0).ok());
        assertEquals(5, results.get(0).usage().outputTokens());
        assertTrue(node.metrics().scrape().contains("keld_flow_requests_total{endpoint=\"prv_demo_swift\""), "Flow's meters are on /metrics");
      } finally {
        node.stop();
        node.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    }
  }
}
