package io.keld.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;

/**
 * Keld's stack used plainly for the edge's job: Pekko HTTP's server handing each request, as it came,
 * to Pekko HTTP's pooled client and the answer back, in the Keld node's own ActorSystem (so with its
 * dispatchers, TCP settings and JVM), with none of Keld's work (no key, quote, lease, usage, routing
 * DSL). Not a strict floor: Keld's path, tuned, takes fewer thread hand-offs a request than this.
 */
final class BarePekkoProxy implements AutoCloseable {

  /** Requests whose path starts with this go to the SSE mock, the rest to the whole-answer mock. */
  static final String STREAM_PREFIX = "/stream";

  private final ServerBinding binding;

  private BarePekkoProxy(ServerBinding binding) {
    this.binding = binding;
  }

  /** Binds on a free loopback port of {@code system}, forwarding to {@code mock}. */
  static BarePekkoProxy start(ActorSystem<?> system, Peers.Mock mock) throws Exception {
    Http http = Http.get(system);
    // The same pool shape as Keld's provider client (flow's ProviderClient): many connections, no retries.
    ConnectionPoolSettings pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(1024).withMaxOpenRequests(4096).withMaxRetries(0);
    Uri whole = Uri.create(mock.url());
    Uri stream = Uri.create(mock.streamUrl());
    Materializer materializer = Materializer.matFromSystem(system);
    LoggingAdapter log = system.classicSystem().log();
    org.apache.pekko.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler =
        request -> forward(http, pool, log, materializer, whole, stream, request);
    ServerBinding binding = http.newServerAt("127.0.0.1", 0).bind(handler)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    return new BarePekkoProxy(binding);
  }

  private static CompletionStage<HttpResponse> forward(Http http, ConnectionPoolSettings pool, LoggingAdapter log, Materializer materializer,
      Uri whole, Uri stream, HttpRequest request) {
    if (request.method() != HttpMethods.POST) {
      request.discardEntityBytes(materializer);
      return CompletableFuture.completedFuture(HttpResponse.create().withStatus(StatusCodes.METHOD_NOT_ALLOWED));
    }
    Uri to = request.getUri().path().startsWith(STREAM_PREFIX) ? stream : whole;
    HttpRequest out = HttpRequest.create().withMethod(HttpMethods.POST).withUri(to).withEntity((RequestEntity) request.entity());
    // The answer goes back as it comes: a whole answer arrives strict with its head, a stream runs through.
    return http.singleRequest(out, http.defaultClientHttpsContext(), pool, log);
  }

  String url() {
    return "http://127.0.0.1:" + binding.localAddress().getPort() + "/v1/chat/completions";
  }

  String streamUrl() {
    return "http://127.0.0.1:" + binding.localAddress().getPort() + STREAM_PREFIX + "/v1/chat/completions";
  }

  @Override
  public void close() throws Exception {
    binding.unbind().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
