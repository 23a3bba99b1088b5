package io.keld.node.http;

import io.keld.kit.ProblemResponses;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code GET /health/alive}: the process is running and answering HTTP (a liveness probe).
 * {@code GET /health/ready}: the node can take work: it is an Up member of the cluster, it is not
 * shutting down, and its database answers (a readiness probe). A node that is not ready answers 503
 * problem+json naming each check that failed.
 */
public final class HealthRoutes {

  /** One readiness condition; {@code failure} says in words what is wrong when it does not hold. */
  public record Check(String name, BooleanSupplier holds, Supplier<String> failure) {}

  private final List<Check> checks;
  private final Executor blockingExecutor;

  /**
   * @param blockingExecutor where the checks run: some (the database ping) block on I/O
   */
  public HealthRoutes(List<Check> checks, Executor blockingExecutor) {
    this.checks = List.copyOf(checks);
    this.blockingExecutor = blockingExecutor;
  }

  public Route route() {
    return pathPrefix(
        "health",
        () ->
            get(
                () ->
                    concat(
                        path("alive", () -> complete(json("{\"status\":\"alive\"}"))),
                        path("ready", () -> completeWithFuture(CompletableFuture.supplyAsync(this::readiness, blockingExecutor))))));
  }

  private HttpResponse readiness() {
    List<String> failures = new ArrayList<>();
    for (Check check : checks) {
      if (!check.holds().getAsBoolean()) failures.add(check.name() + ": " + check.failure().get());
    }
    if (failures.isEmpty()) return json("{\"status\":\"ready\"}");
    return ProblemResponses.response(Problem.of(ProblemType.NOT_READY, "not ready: " + String.join("; ", failures)));
  }

  private static HttpResponse json(String body) {
    return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
  }
}
