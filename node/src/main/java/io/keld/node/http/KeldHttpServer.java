package io.keld.node.http;

import io.keld.kit.ProblemResponses;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.node.metrics.KeldMetrics;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The Keld HTTP server: assembles the routes each module owns, and wraps them once with what every
 * route gets: request metrics, and problem+json for every rejection and failure.
 */
public final class KeldHttpServer {

  private KeldHttpServer() {}

  /**
   * @param drain on shutdown, how long requests in flight (a long upload, a stream) may run on after
   *     the port stops accepting; then they are cut, and IXP clients resume on another node
   */
  public static CompletionStage<ServerBinding> bind(
      ActorSystem<?> system, String iface, int port, KeldMetrics metrics, List<Route> routes, Duration drain) {
    Route all = concat(routes.get(0), routes.subList(1, routes.size()).toArray(Route[]::new));
    Route handled =
        handleExceptions(
            ProblemResponses.exceptionHandler(),
            () -> handleRejections(ProblemResponses.rejectionHandler(), () -> all));
    return Http.get(system)
        .newServerAt(iface, port)
        .bind(timed(metrics, handled))
        .thenApply(binding -> binding.addToCoordinatedShutdown(drain, system));
  }

  /** Records method, status and duration of every response, whichever route produced it. */
  private static Route timed(KeldMetrics metrics, Route inner) {
    return extractRequest(
        request -> {
          long start = System.nanoTime();
          return mapResponse(
              response -> {
                metrics.recordHttpRequest(request.method().value(), response.status().intValue(), System.nanoTime() - start);
                return response;
              },
              () -> inner);
        });
  }
}
