package io.keld.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.node.KeldNode;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench/run trade-feed}: 200 providers connected to one node's WebSocket feed, each with an
 * ask on the {@code summarize} book and all subscribed to it, amend their asks at an aggregate
 * 2,000 amends/s (open loop). Every amend moves an ask to a price no other amend uses, so each
 * subscriber can tell when it has seen it; the figure is the time from sending the amend to the
 * delta carrying that price reaching the last of the 200 subscribers. CPU is the whole benchmark
 * JVM's (the node and the 200 clients share it), as a share of the machine.
 */
final class TradeFeedBench {

  static final int PROVIDERS = 200;
  static final int AMENDS_PER_S = 2_000;
  /** A second, lower rate: the feed's own latency where the book keeps up. */
  static final int LOW_RATE = 400;
  static final ObjectMapper JSON = new ObjectMapper();

  static BenchReport run(boolean quick) throws Exception {
    return BenchNode.onPostgres(java.nio.file.Files.createTempDirectory("keld-trade-bench"), node -> measure(node, quick));
  }

  private static BenchReport measure(KeldNode node, boolean quick) throws Exception {
    String base = "http://127.0.0.1:" + node.httpAddress().getPort();
    String operator = node.bootstrapKey().orElseThrow().secret();
    HttpClient http = HttpClient.newHttpClient();
    Tracker tracker = new Tracker(PROVIDERS);
    List<Provider> providers = new ArrayList<>();
    System.err.printf("trade-feed: creating and connecting %d providers...%n", PROVIDERS);
    for (int i = 0; i < PROVIDERS; i++) {
      String org = call(http, base, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"bench-" + i + "\",\"kind\":\"provider\"}").path("id").asText();
      String key = call(http, base, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"feed\",\"role\":\"provider\"}").path("key").asText();
      call(http, base, "PUT", "/trade/v1/models/bench-model", key, "{\"use_cases\":[\"summarize\"]}");
      Provider p = new Provider(i, tracker);
      p.org = org;
      p.connect(http, base, key);
      providers.add(p);
    }
    for (Provider p : providers) p.send("{\"type\":\"subscribe\",\"id\":\"s\",\"use_cases\":[\"summarize\"]}");
    for (Provider p : providers) {
      p.send("{\"type\":\"post_ask\",\"id\":\"post\",\"ask\":{\"model\":\"bench-model\",\"use_case\":\"summarize\",\"price_per_mtok\":"
          + (10_000_000 + p.index) + ",\"throughput_tps\":1000}}");
    }
    for (Provider p : providers) p.askId.get(30, TimeUnit.SECONDS);

    long directPerS;
    {
      AtomicLong ops = new AtomicLong();
      long until = System.nanoTime() + 5_000_000_000L;
      AtomicLong pr = new AtomicLong(30_000_000);
      List<CompletableFuture<Void>> loops = new ArrayList<>();
      for (Provider p : providers) {
        CompletableFuture<Void> loop = new CompletableFuture<>();
        loops.add(loop);
        Runnable[] step = new Runnable[1];
        step[0] = () -> {
          if (System.nanoTime() > until) { loop.complete(null); return; }
          node.books().submit("summarize", new io.keld.marketplace.book.BookOp.AmendAsk(p.askId.join(), p.org, pr.incrementAndGet(), null, null, null, null))
              .whenComplete((r, e) -> { ops.incrementAndGet(); step[0].run(); });
        };
        step[0].run();
      }
      CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      directPerS = ops.get() / 5;
      System.err.printf("trade-feed: the book alone takes %,d amends/s (%d in flight, no feed)%n", directPerS, PROVIDERS);
    }
    int warmUpS = quick ? 3 : 5;
    int measureS = quick ? 5 : 20;
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    drive(providers, tracker, LOW_RATE, warmUpS, false);
    drain(tracker, Duration.ofSeconds(30));
    Phase low = phase(providers, tracker, os, LOW_RATE, measureS);
    Phase target = phase(providers, tracker, os, AMENDS_PER_S, measureS);
    for (Provider p : providers) p.close();
    Thread.sleep(1_000); // the connections close before the node stops

    BenchReport report = new BenchReport("trade-feed", quick)
        .figure("providers", PROVIDERS)
        .figure("book_alone_amends_per_s", directPerS)
        .figure("offered_amends_per_s", AMENDS_PER_S)
        .figure("acknowledged_amends_per_s", Math.round(target.acked / (double) measureS))
        .figure("p50_ms", round(target.p50))
        .figure("p99_ms", round(target.p99))
        .figure("met_p99", target.p99 <= 50.0)
        .figure("cpu_share", round(target.cpu))
        .figure("low_rate_amends_per_s", LOW_RATE)
        .figure("low_rate_p50_ms", round(low.p50))
        .figure("low_rate_p99_ms", round(low.p99))
        .figure("low_rate_cpu_share", round(low.cpu));
    report.line(String.format(Locale.ROOT, "One node on PostgreSQL (same machine); %d providers connected to its WebSocket feed with the JDK's client, "
        + "each with an ask on the `summarize` book and all %d subscribed to it; amends sent over the feed (open loop), each to a price no "
        + "other amend uses. Latency runs from sending an amend to the delta carrying its price reaching the last of the %d subscribers "
        + "(an amend overtaken by the same provider's next one before a delta went out is never seen, and is not counted). CPU is the "
        + "whole benchmark JVM's (node and clients) over %d cores, %d s per phase.", PROVIDERS, PROVIDERS, PROVIDERS,
        Runtime.getRuntime().availableProcessors(), measureS));
    report.line("");
    report.line("| offered | amends acknowledged | seen by all subscribers | p50 | p99 | max | CPU | target p99 ≤ 50 ms |");
    report.line("|---|---|---|---|---|---|---|---|");
    for (Phase ph : List.of(low, target)) {
      report.line(String.format(Locale.ROOT, "| %,d/s | %,.0f/s | %,d | %.1f ms | %.1f ms | %.1f ms | %.0f%% | %s |", ph.offered, ph.acked / (double) measureS,
          ph.seen, ph.p50, ph.p99, ph.max, ph.cpu * 100, ph.offered == AMENDS_PER_S ? (ph.p99 <= 50 ? "met" : "**not met**") : "—"));
    }
    report.line("");
    report.line(String.format(Locale.ROOT, "The `summarize` book alone (amends straight to the sharded entity, %d in flight, no feed, no database "
        + "index) takes %,d amends/s on this machine: one book is one entity persisting its batches in turn, so 2,000 amends/s on one "
        + "book is beyond it here, and amends queue before the book, not in the feed.", PROVIDERS, directPerS));
    return report;
  }

  record Phase(int offered, long sent, long acked, long seen, double p50, double p99, double max, double cpu) {}

  /** One measured phase at {@code rate}: drive, wait for the backlog to clear (at most 30 s), read the figures. */
  private static Phase phase(List<Provider> providers, Tracker tracker, com.sun.management.OperatingSystemMXBean os, int rate, int seconds)
      throws Exception {
    tracker.reset();
    long cpu0 = os.getProcessCpuTime();
    long wall0 = System.nanoTime();
    long sent = drive(providers, tracker, rate, seconds, true);
    long acked = tracker.acks.get();
    double cpu = (os.getProcessCpuTime() - cpu0) / (double) (System.nanoTime() - wall0) / Runtime.getRuntime().availableProcessors();
    drain(tracker, Duration.ofSeconds(30));
    Thread.sleep(500); // the last deltas
    long[] lat = tracker.completed();
    Arrays.sort(lat);
    double p50 = lat.length == 0 ? Double.NaN : lat[lat.length / 2] / 1e6;
    double p99 = lat.length == 0 ? Double.NaN : lat[Math.min(lat.length - 1, (int) (lat.length * 0.99))] / 1e6;
    double max = lat.length == 0 ? Double.NaN : lat[lat.length - 1] / 1e6;
    System.err.printf(Locale.ROOT, "trade-feed: %,d/s offered: %,d sent, %,d acknowledged in the phase, %,d seen by all, p50 %.1f ms, p99 %.1f ms, "
        + "CPU %.0f%%, %d refused%n", rate, sent, acked, lat.length, p50, p99, cpu * 100, tracker.errors.get());
    return new Phase(rate, sent, acked, lat.length, p50, p99, max, cpu);
  }

  /** Waits until every amend sent has been acknowledged (or {@code max} passes). */
  private static void drain(Tracker tracker, Duration max) throws InterruptedException {
    long end = System.nanoTime() + max.toNanos();
    while (tracker.outstanding.get() > 0 && System.nanoTime() < end) Thread.sleep(10);
  }

  /** Sends amends at {@code rate} for {@code seconds}, round robin over the providers; returns how many were sent. */
  private static long drive(List<Provider> providers, Tracker tracker, int rate, int seconds, boolean track) throws Exception {
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    long sent = 0;
    while (System.nanoTime() < end) {
      long due = (System.nanoTime() - start) * rate / 1_000_000_000L;
      while (sent < due) {
        Provider p = providers.get((int) (sent % providers.size()));
        long price = tracker.nextPrice();
        if (track) tracker.sent(price, System.nanoTime());
        tracker.outstanding.incrementAndGet();
        p.send("{\"type\":\"amend_ask\",\"id\":\"a\",\"ask_id\":\"" + p.askId.get() + "\",\"price_per_mtok\":" + price + "}");
        sent++;
      }
      Thread.sleep(1);
    }
    return sent;
  }

  /** Which subscribers have seen each tracked price, and when the last one did. */
  static final class Tracker {
    final int subscribers;
    final AtomicLong prices = new AtomicLong(20_000_000);
    final ConcurrentHashMap<Long, long[]> pending = new ConcurrentHashMap<>(); // price -> {sentNanos, seenCount}
    final List<Long> done = java.util.Collections.synchronizedList(new ArrayList<>());
    final AtomicLong errors = new AtomicLong();
    final AtomicLong acks = new AtomicLong();
    final AtomicLong outstanding = new AtomicLong();
    final AtomicLong seenOnce = new AtomicLong();

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
        if (++p[1] == 1) seenOnce.incrementAndGet();
        if (p[1] == subscribers) {
          done.add(at - p[0]);
          pending.remove(price);
        }
      }
    }

    void reset() {
      acks.set(0);
      seenOnce.set(0);
      pending.clear();
      done.clear();
      errors.set(0);
    }

    long[] completed() {
      synchronized (done) {
        return done.stream().mapToLong(Long::longValue).toArray();
      }
    }
  }

  /** One provider's connection: sends one message at a time (the JDK client's rule), reads every message. */
  static final class Provider implements WebSocket.Listener {
    static final Pattern PRICE = Pattern.compile("\"price_per_mtok\":(\\d+)");
    final int index;
    String org;
    final Tracker tracker;
    final CompletableFuture<String> askId = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    private WebSocket socket;
    private CompletableFuture<WebSocket> lastSend = CompletableFuture.completedFuture(null);

    Provider(int index, Tracker tracker) {
      this.index = index;
      this.tracker = tracker;
    }

    void connect(HttpClient http, String base, String key) throws Exception {
      socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + key)
          .buildAsync(URI.create(base.replace("http://", "ws://") + "/trade/v1/feed"), this).get(10, TimeUnit.SECONDS);
      lastSend = CompletableFuture.completedFuture(socket);
    }

    synchronized void send(String text) {
      lastSend = lastSend.thenCompose(ws -> socket.sendText(text, true));
    }

    void close() {
      socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
    }

    @Override
    public void onOpen(WebSocket ws) {
      ws.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        long at = System.nanoTime();
        String text = partial.toString();
        partial.setLength(0);
        try {
          if (text.contains("\"type\":\"book_delta\"")) {
            // Deltas are most of the traffic: read their prices without building a tree.
            int asksEnd = text.indexOf("\"removed_prices\"");
            Matcher prices = PRICE.matcher(text.substring(0, asksEnd < 0 ? text.length() : asksEnd));
            while (prices.find()) tracker.seen(Long.parseLong(prices.group(1)), at);
            ws.request(1);
            return null;
          }
          JsonNode m = JSON.readTree(text);
          switch (m.path("type").asText()) {
            case "ack" -> {
              if ("post".equals(m.path("id").asText())) askId.complete(m.path("result").path("ask").path("id").asText());
              else {
                tracker.acks.incrementAndGet();
                tracker.outstanding.decrementAndGet();
              }
            }
            case "error" -> {
              tracker.errors.incrementAndGet();
              tracker.outstanding.decrementAndGet();
            }
            default -> { }
          }
        } catch (Exception e) {
          tracker.errors.incrementAndGet();
        }
      }
      ws.request(1);
      return null;
    }
  }

  private static JsonNode call(HttpClient http, String base, String method, String path, String key, String body) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() >= 300) throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private TradeFeedBench() {}
}
