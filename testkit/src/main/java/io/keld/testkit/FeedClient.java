package io.keld.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A provider's feed connection, with the JDK's own WebSocket client: messages are queued as they
 * arrive and taken by the test in order. {@code reading = false} makes a client that never asks for
 * more than the first message, as a provider that stopped reading does.
 */
public final class FeedClient implements AutoCloseable {

  private final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
  private final CompletableFuture<String> closed = new CompletableFuture<>();
  private final List<JsonNode> taken = new ArrayList<>();
  private final WebSocket socket;
  private final boolean reading;

  public FeedClient(HttpNode node, String key, boolean reading) throws Exception {
    this(node.httpAddress(), key, reading);
  }

  /** Connects to the feed served on {@code address} (on the loopback interface). */
  public FeedClient(InetSocketAddress address, String key, boolean reading) throws Exception {
    this.reading = reading;
    StringBuilder partial = new StringBuilder();
    this.socket = HttpClient.newHttpClient().newWebSocketBuilder()
        .header("Authorization", "Bearer " + key)
        .connectTimeout(Duration.ofSeconds(10))
        .buildAsync(URI.create("ws://127.0.0.1:" + address.getPort() + "/trade/v1/feed"), new WebSocket.Listener() {
          @Override
          public void onOpen(WebSocket ws) {
            ws.request(1);
          }

          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
              try {
                received.add(ApiClient.JSON.readTree(partial.toString()));
              } catch (Exception e) {
                closed.completeExceptionally(e);
              }
              partial.setLength(0);
            }
            if (FeedClient.this.reading) ws.request(1);
            return null;
          }

          @Override
          public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
            closed.complete(status + " " + reason);
            return null;
          }

          @Override
          public void onError(WebSocket ws, Throwable error) {
            closed.complete("error: " + error);
          }
        }).get(10, TimeUnit.SECONDS);
  }

  public void send(String json) {
    socket.sendText(json, true).join();
  }

  public void sendBinary(byte[] data) {
    socket.sendBinary(java.nio.ByteBuffer.wrap(data), true).join();
  }

  /** The next message matching {@code test}, skipping (and keeping) the others; fails after {@code timeout}. */
  public JsonNode next(Predicate<JsonNode> test, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = end - System.nanoTime();
      JsonNode m = left <= 0 ? null : received.poll(left, TimeUnit.NANOSECONDS);
      if (m == null) throw new AssertionError("no matching feed message within " + timeout + "; seen: " + taken);
      taken.add(m);
      if (test.test(m)) return m;
    }
  }

  public JsonNode next(String type, Duration timeout) throws InterruptedException {
    return next(m -> type.equals(m.path("type").asText()), timeout);
  }

  /** Every message taken so far, in order of arrival. */
  public List<JsonNode> taken() {
    return taken;
  }

  public CompletableFuture<String> closed() {
    return closed;
  }

  /** Starts reading again (a client that had stopped). */
  public void resume() {
    socket.request(Long.MAX_VALUE);
  }

  @Override
  public void close() {
    if (!socket.isOutputClosed()) socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
  }

  public void abort() {
    socket.abort();
  }
}
