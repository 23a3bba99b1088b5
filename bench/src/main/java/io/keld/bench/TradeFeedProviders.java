package io.keld.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.Json;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import com.sun.management.OperatingSystemMXBean;
import java.util.Collections;

/**
 * The simulated providers of {@code bench/run trade-feed}, in a JVM of their own: 200 WebSocket
 * connections on one selector thread ({@link LeanWebSockets}), each posting an ask on the {@code summarize} book and
 * subscribing to it. In production providers connect from elsewhere; here they share the machine,
 * but not the node's heap, its collector or its CPU figure.
 *
 * <p>Driven over standard input by {@link TradeFeedBench}, one command a line, each answered with
 * one JSON line on standard output (progress goes to standard error):
 * <ul>
 *   <li>at start: {@code {"asks":[[org, ask id], ...]}} once every provider is connected with its ask;
 *   <li>{@code drive RATE SECONDS} sends amends at RATE per second, round robin, each to a price no
 *       other amend uses; answers {@code {"driven":true}} when the sending ends, then, once every
 *       amend is acknowledged (at most 30 s) and the last deltas are in, the phase's figures;
 *   <li>{@code quit} closes the connections and exits; so does the end of standard input.
 * </ul>
 * Latency runs from sending an amend to the delta carrying its price reaching the last of the
 * subscribers; an amend overtaken by the same provider's next one before a delta went out is never
 * seen, and is not counted.
 */
public final class TradeFeedProviders {

  static final ObjectMapper JSON = Json.PLAIN;

  public static void main(String[] args) throws Exception {
    String wsBase = args[0];
    List<String[]> credentials = Files.readAllLines(Path.of(args[1])).stream().map(l -> l.split(" ", 2)).toList();
    LeanWebSockets sockets = new LeanWebSockets();
    Tracker tracker = new Tracker(credentials.size());
    List<Provider> providers = new ArrayList<>();
    for (int i = 0; i < credentials.size(); i++) {
      Provider p = new Provider(i, credentials.get(i)[0], tracker);
      p.connect(sockets, wsBase, credentials.get(i)[1]);
      providers.add(p);
    }
    for (Provider p : providers) p.send("{\"type\":\"subscribe\",\"id\":\"s\",\"use_cases\":[\"summarize\"]}");
    for (Provider p : providers) {
      p.send("{\"type\":\"post_ask\",\"id\":\"post\",\"ask\":{\"model\":\"bench-model\",\"use_case\":\"summarize\",\"price_per_mtok\":"
          + (10_000_000 + p.index) + ",\"throughput_tps\":1000}}");
    }
    ObjectNode ready = JSON.createObjectNode();
    var asks = ready.putArray("asks");
    for (Provider p : providers) asks.addArray().add(p.org).add(p.askId.get(30, TimeUnit.SECONDS));
    answer(ready);

    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null && !line.equals("quit"); ) {
      String[] cmd = line.trim().split("\\s+");
      if (!cmd[0].equals("drive")) throw new IllegalArgumentException("unknown command: " + line);
      int rate = Integer.parseInt(cmd[1]);
      int seconds = Integer.parseInt(cmd[2]);
      tracker.reset();
      long cpu0 = os.getProcessCpuTime();
      long wall0 = System.nanoTime();
      long sent = drive(providers, tracker, rate, seconds);
      long wall = System.nanoTime() - wall0;
      double cpu = (os.getProcessCpuTime() - cpu0) / (double) wall / Runtime.getRuntime().availableProcessors();
      long acked = tracker.acks.get();
      double deltaRate = tracker.deltas.get() / (double) tracker.subscribers / seconds;
      answer(JSON.createObjectNode().put("driven", true));
      drain(tracker, Duration.ofSeconds(30));
      Thread.sleep(500); // the last deltas
      long[] lat = tracker.completed();
      Arrays.sort(lat);
      ObjectNode result = JSON.createObjectNode()
          .put("sent", sent).put("acked", acked).put("seen", lat.length).put("errors", tracker.errors.get())
          .put("unanswered", tracker.outstanding.get()) // after waiting up to 30 s for the last answers
          .put("p50_ms", lat.length == 0 ? -1 : lat[lat.length / 2] / 1e6)
          .put("p99_ms", lat.length == 0 ? -1 : lat[Math.min(lat.length - 1, (int) (lat.length * 0.99))] / 1e6)
          .put("max_ms", lat.length == 0 ? -1 : lat[lat.length - 1] / 1e6)
          .put("deltas_per_subscriber_per_s", deltaRate)
          .put("cpu_share", cpu);
      answer(result);
    }
    for (Provider p : providers) p.close();
    Thread.sleep(1_000); // the close frames go out
    System.exit(0);
  }

  private static void answer(ObjectNode line) {
    System.out.println(line);
    System.out.flush();
  }

  /** Waits until every amend sent has been acknowledged (or {@code max} passes). */
  private static void drain(Tracker tracker, Duration max) throws InterruptedException {
    long end = System.nanoTime() + max.toNanos();
    while (tracker.outstanding.get() > 0 && System.nanoTime() < end) Thread.sleep(10);
  }

  /** Sends amends at {@code rate} for {@code seconds}, round robin over the providers; returns how many were sent. */
  private static long drive(List<Provider> providers, Tracker tracker, int rate, int seconds) throws Exception {
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    long sent = 0;
    while (System.nanoTime() < end) {
      long due = (System.nanoTime() - start) * rate / 1_000_000_000L;
      while (sent < due) {
        Provider p = providers.get((int) (sent % providers.size()));
        long price = tracker.nextPrice();
        tracker.sent(price, System.nanoTime());
        tracker.outstanding.incrementAndGet();
        p.send("{\"type\":\"amend_ask\",\"id\":\"a\",\"ask_id\":\"" + p.askId.get() + "\",\"price_per_mtok\":" + price + "}");
        sent++;
      }
      Thread.sleep(1);
    }
    return sent;
  }

  /** Which subscribers have seen each price sent, and when the last one did. */
  static final class Tracker {
    final int subscribers;
    final AtomicLong prices = new AtomicLong(20_000_000);
    final ConcurrentHashMap<Long, long[]> pending = new ConcurrentHashMap<>(); // price -> {sentNanos, seenCount}
    final List<Long> done = Collections.synchronizedList(new ArrayList<>());
    final AtomicLong errors = new AtomicLong();
    final AtomicLong acks = new AtomicLong();
    final AtomicLong outstanding = new AtomicLong();
    /** book_delta messages received, all subscribers together. */
    final AtomicLong deltas = new AtomicLong();

    Tracker(int subscribers) {
      this.subscribers = subscribers;
    }

    long nextPrice() {
      return prices.incrementAndGet();
    }

    void sent(long price, long at) {
      pending.put(price, new long[] {at, 0});
    }

    void seen(long price, long at) {
      long[] p = pending.get(price);
      if (p == null) return;
      synchronized (p) {
        if (++p[1] == subscribers) {
          done.add(at - p[0]);
          pending.remove(price);
        }
      }
    }

    void reset() {
      acks.set(0);
      pending.clear();
      done.clear();
      errors.set(0);
      deltas.set(0);
    }

    long[] completed() {
      synchronized (done) {
        return done.stream().mapToLong(Long::longValue).toArray();
      }
    }
  }

  /** One provider's connection. */
  static final class Provider implements LeanWebSockets.Listener {
    static final String PRICE_KEY = "\"price_per_mtok\":";
    final int index;
    final String org;
    final Tracker tracker;
    final CompletableFuture<String> askId = new CompletableFuture<>();
    private LeanWebSockets.Connection connection;

    Provider(int index, String org, Tracker tracker) {
      this.index = index;
      this.org = org;
      this.tracker = tracker;
    }

    void connect(LeanWebSockets sockets, String wsBase, String key) throws Exception {
      connection = sockets.connect(URI.create(wsBase + "/trade/v1/feed"), "Bearer " + key, this);
    }

    void send(String text) {
      connection.send(text);
    }

    void close() {
      connection.close();
    }

    @Override
    public void onText(String text, long at) {
      try {
        if (text.contains("\"type\":\"book_delta\"")) {
          // Deltas are most of the traffic: read their prices without building a tree.
          tracker.deltas.incrementAndGet();
          int asksEnd = text.indexOf("\"removed_prices\"");
          int end = asksEnd < 0 ? text.length() : asksEnd;
          for (int i = text.indexOf(PRICE_KEY); i >= 0 && i < end; i = text.indexOf(PRICE_KEY, i)) {
            i += PRICE_KEY.length();
            long price = 0;
            while (i < end && Character.isDigit(text.charAt(i))) price = price * 10 + (text.charAt(i++) - '0');
            tracker.seen(price, at);
          }
        } else if (text.contains("\"type\":\"ack\"")) {
          if (text.contains("\"id\":\"post\"")) {
            askId.complete(JSON.readTree(text).path("result").path("ask").path("id").asText());
          } else if (text.contains("\"id\":\"a\"")) { // an amend's (the subscribe's ack is not one)
            tracker.acks.incrementAndGet();
            tracker.outstanding.decrementAndGet();
          }
        } else if (text.contains("\"type\":\"error\"")) {
          System.err.println("trade-feed provider " + index + ": " + text);
          tracker.errors.incrementAndGet();
          tracker.outstanding.decrementAndGet();
        }
      } catch (Exception e) {
        tracker.errors.incrementAndGet();
      }
    }

    @Override
    public void onClosed(String reason) {
      if (!askId.isDone()) askId.completeExceptionally(new IllegalStateException("connection " + index + " ended: " + reason));
    }
  }

  private TradeFeedProviders() {}
}
