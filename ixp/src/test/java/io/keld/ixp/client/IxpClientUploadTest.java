package io.keld.ixp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client's item upload against a real HTTP server that, like the node, answers each line on the
 * open response while it is still reading: far more data than both directions' socket buffers hold
 * goes through without a deadlock, every result arrives in order, and a refusal comes back as the
 * node's problem.
 */
class IxpClientUploadTest {

  private HttpServer server;
  private final AtomicReference<String> seenAuthorization = new AtomicReference<>();
  private final AtomicReference<String> seenQuery = new AtomicReference<>();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/ixp/v1/jobs/job_echo/items", ex -> {
      seenAuthorization.set(ex.getRequestHeaders().getFirst("Authorization"));
      seenQuery.set(ex.getRequestURI().getQuery());
      ex.getResponseHeaders().add("Content-Type", "application/x-ndjson");
      ex.sendResponseHeaders(200, 0); // chunked, sent before the body is read
      try (BufferedReader in = new BufferedReader(new InputStreamReader(ex.getRequestBody(), StandardCharsets.UTF_8));
          OutputStream out = ex.getResponseBody()) {
        for (String line; (line = in.readLine()) != null; ) {
          String id = line.replaceAll(".*\"custom_id\":\"([^\"]+)\".*", "$1");
          // Each answer is bigger than its line: the response fills its buffers first.
          out.write(("{\"custom_id\":\"" + id + "\",\"response\":{\"status_code\":200,\"body\":{\"pad\":\"" + "x".repeat(2_000) + "\"}}}\n")
              .getBytes(StandardCharsets.UTF_8));
        }
      }
    });
    server.createContext("/ixp/v1/jobs/job_gone/items", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readNBytes(16);
      }
      byte[] problem = "{\"type\":\"https://keld.io/problems/conflict\",\"title\":\"Conflict\",\"status\":409,\"detail\":\"job job_gone has ended\"}"
          .getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/problem+json");
      ex.sendResponseHeaders(409, problem.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(problem);
      }
    });
    server.setExecutor(Executors.newCachedThreadPool());
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void aLargeUploadIsReadWhileItIsWrittenWithoutDeadlock() throws Exception {
    IxpClient client = IxpClient.create(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "keld_test_key");
    int items = 20_000; // ~40 MB of answers against ~10 MB of items
    List<String> results = new ArrayList<>();
    CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> {
      try {
        client.upload("job_echo", IxpClient.ResultFormat.OPENAI, sink -> {
          for (int i = 0; i < items; i++) {
            sink.send(("{\"custom_id\":\"c-" + i + "\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"" + "y".repeat(400) + "\"}]}}")
                .getBytes(StandardCharsets.UTF_8));
          }
        }, results::add);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    upload.get(60, TimeUnit.SECONDS);
    assertEquals(items, results.size());
    for (int i = 0; i < items; i++) assertTrue(results.get(i).startsWith("{\"custom_id\":\"c-" + i + "\""), results.get(i).substring(0, 40));
    assertEquals("Bearer keld_test_key", seenAuthorization.get());
    assertEquals("format=openai", seenQuery.get());
  }

  @Test
  void aRefusedUploadIsTheNodesProblem() {
    IxpClient client = IxpClient.create(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "k");
    IxpException e = assertThrows(IxpException.class, () -> client.upload("job_gone", IxpClient.ResultFormat.KELD,
        sink -> sink.send("{\"custom_id\":\"a\",\"body\":{}}".getBytes(StandardCharsets.UTF_8)), line -> { }));
    assertEquals(409, e.status());
    assertEquals("https://keld.io/problems/conflict", e.type());
    assertEquals("job job_gone has ended", e.detail());
  }
}
