package io.keld.atlas.governance;

import static org.apache.pekko.http.javadsl.server.Directives.handleExceptions;
import static org.apache.pekko.http.javadsl.server.Directives.handleRejections;
import static org.apache.pekko.http.javadsl.server.Directives.mapRouteResultWith;

import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.problem.ProblemType;
import io.keld.kit.ProblemException;
import io.keld.kit.ProblemResponses;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.server.Complete;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * How every {@code /atlas/v1} route, whichever module owns it, finds what a key may see and writes
 * its state-changing calls to the audit log: invisible → 404, not allowed → 403, and every outcome
 * (refused, denied and failed ones too) audited before the answer.
 */
public final class AuditedCalls {

  private final TenancyStore tenancy;
  private final AuditLog audit;

  AuditedCalls(TenancyStore tenancy, AuditLog audit) {
    this.tenancy = tenancy;
    this.audit = audit;
  }

  /**
   * Writes the call to the audit log, then answers. Errors inside are turned into their responses
   * here, so refused, denied and failed calls are logged too.
   */
  public Route audited(Principal p, String action, String target, Function<AuditTarget, Route> inner) {
    AuditTarget t = new AuditTarget(p.orgId(), target);
    Supplier<Route> handled = () -> handleExceptions(ProblemResponses.exceptionHandler(),
        () -> handleRejections(ProblemResponses.rejectionHandler(), () -> inner.apply(t)));
    return mapRouteResultWith(result -> {
      if (!(result instanceof Complete done)) return CompletableFuture.completedFuture(result);
      int status = done.getResponse().status().intValue();
      return audit.record(t.orgId, p.keyId(), action, t.target, outcome(status), status, null).thenApply(v -> result);
    }, handled);
  }

  private static String outcome(int status) {
    if (status < 300) return "ok";
    if (status == 402) return "refused";
    if (status == 401 || status == 403 || status == 404) return "denied";
    return "failed";
  }

  /** What an audited call acted on, learnt as the call resolves it. */
  public static final class AuditTarget {
    volatile String orgId;
    volatile String target;

    AuditTarget(String orgId, String target) {
      this.orgId = orgId;
      this.target = target;
    }

    public void org(String id) {
      orgId = id;
    }

    public void target(String id) {
      target = id;
    }

    public void set(String org, String id) {
      orgId = org;
      target = id;
    }
  }

  public CompletionStage<Organization> visibleOrg(Principal p, String orgId) {
    if (!Access.seesOrg(p, orgId)) return CompletableFuture.failedFuture(ProblemException.notFound("organization " + orgId));
    return tenancy.organization(orgId).thenApply(o -> o.orElseThrow(() -> ProblemException.notFound("organization " + orgId)));
  }

  public CompletionStage<Team> visibleTeam(Principal p, String teamId) {
    return tenancy.team(teamId).thenApply(t -> t.filter(x -> Access.seesTeam(p, x))
        .orElseThrow(() -> ProblemException.notFound("team " + teamId)));
  }

  public CompletionStage<Project> visibleProject(Principal p, String projectId) {
    return tenancy.project(projectId).thenApply(x -> x.filter(y -> Access.seesProject(p, y))
        .orElseThrow(() -> ProblemException.notFound("project " + projectId)));
  }

  public static ProblemException forbidden(String detail) {
    return ProblemException.of(ProblemType.FORBIDDEN, detail);
  }
}
