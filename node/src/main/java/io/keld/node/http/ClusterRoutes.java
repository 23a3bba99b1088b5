package io.keld.node.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.ProblemType;
import io.keld.kit.JsonBodies;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.node.cluster.ClusterStatus;
import java.time.Duration;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code GET /cluster/v1/status} (operator keys): the members, which node hosts which shards and
 * entities of each type, and which node hosts each book. {@code keld cluster status} prints it.
 */
public final class ClusterRoutes {

  private final Authenticator authenticator;
  private final ClusterStatus status;
  private final Duration timeout;

  public ClusterRoutes(Authenticator authenticator, ClusterStatus status, Duration timeout) {
    this.authenticator = authenticator;
    this.status = status;
    this.timeout = timeout;
  }

  public Route route() {
    return path(PathMatchers.segment("cluster").slash("v1").slash("status"), () -> get(() -> KeyAuthentication.authenticated(authenticator, p -> {
      if (p.role() != Role.OPERATOR) throw ProblemException.of(ProblemType.FORBIDDEN, "the cluster's status is for operator keys");
      return onSuccess(status.view(timeout), view -> complete(JsonBodies.response(StatusCodes.OK, view)));
    })));
  }
}
