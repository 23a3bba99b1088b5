package io.keld.exchange;

import static io.keld.kit.JsonBodies.body;
import static io.keld.kit.JsonBodies.response;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.atlas.governance.Access;
import io.keld.atlas.governance.AuditedCalls;
import io.keld.atlas.governance.AuditedCalls.AuditTarget;
import io.keld.exchange.edge.EdgeDefaults;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.BackupPolicies;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.jobs.WireMoney;
import io.keld.kit.InvalidField;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Set;
import java.util.TreeSet;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code /atlas/v1/projects/{id}/backup} and {@code .../edge-defaults}: a project's policies for how
 * its jobs run. They sit under the governance API's paths and follow its rules (same visibility,
 * same audit), but belong to the exchange, which is what reads them.
 */
final class ProjectPolicyRoutes {

  private final Authenticator keys;
  private final AuditedCalls calls;
  private final BackupPolicies backups;
  private final EdgeDefaults edgeDefaults;
  private final Set<String> useCases;

  /** @param useCases the books' use cases (what a project's edge defaults may name) */
  ProjectPolicyRoutes(Authenticator keys, AuditedCalls calls, BackupPolicies backups, EdgeDefaults edgeDefaults, Set<String> useCases) {
    this.keys = keys;
    this.calls = calls;
    this.backups = backups;
    this.edgeDefaults = edgeDefaults;
    this.useCases = useCases;
  }

  Route route() {
    return pathPrefix("atlas", () -> pathPrefix("v1", () -> pathPrefix("projects", () -> pathPrefix(PathMatchers.segment(), projectId ->
        concat(
            path("edge-defaults", () -> KeyAuthentication.authenticated(keys, p -> concat(
                get(() -> onSuccess(calls.visibleProject(p, projectId), prj -> onSuccess(edgeDefaults.read(prj.id()), d -> complete(ok(
                    EdgeDefaultsView.of(d.orElseThrow(() -> ProblemException.notFound("edge defaults of project " + projectId)))))))),
                put(() -> calls.audited(p, "edge_defaults.set", projectId, t -> setEdgeDefaults(p, projectId, t))),
                delete(() -> calls.audited(p, "edge_defaults.remove", projectId, t -> removeEdgeDefaults(p, projectId, t)))))),
            path("backup", () -> KeyAuthentication.authenticated(keys, p -> concat(
                get(() -> getBackup(p, projectId)),
                put(() -> calls.audited(p, "backup.set", projectId, t -> setBackup(p, projectId, t))),
                delete(() -> calls.audited(p, "backup.remove", projectId, t -> removeBackup(p, projectId, t)))))))))));
  }

  /** The project's own policy, else the operator's default; 404 when the project's jobs have no backup. */
  private Route getBackup(Principal p, String projectId) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> onSuccess(backups.forProject(prj.id()), b -> complete(ok(
        b.orElseThrow(() -> ProblemException.notFound("a backup for project " + projectId + " (none set, and the operator has no default)"))))));
  }

  private Route setBackup(Principal p, String projectId, AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("setting a project's backup needs an admin key");
      return body(PutBackup.class, req -> onSuccess(backups.set(prj.id(), req.backup()), b -> complete(ok(b))));
    });
  }

  private Route removeBackup(Principal p, String projectId, AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("removing a project's backup needs an admin key");
      return onSuccess(backups.remove(prj.id()), removed -> {
        if (!removed) throw ProblemException.notFound("a backup policy of project " + projectId);
        return complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT));
      });
    });
  }

  private Route setEdgeDefaults(Principal p, String projectId, AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("setting a project's edge defaults needs an admin key");
      return body(EdgeDefaultsView.class, req -> {
        EdgeDefaults.Defaults defaults;
        try {
          defaults = req.defaults(useCases);
        } catch (InvalidField f) {
          // Checked after parsing (the use cases are the node's), so not turned into a 422 by the body reader.
          throw ProblemException.invalid(f.field(), f.getMessage());
        }
        return onSuccess(edgeDefaults.set(prj.id(), defaults), d -> complete(ok(EdgeDefaultsView.of(d))));
      });
    });
  }

  private Route removeEdgeDefaults(Principal p, String projectId, AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("removing a project's edge defaults needs an admin key");
      return onSuccess(edgeDefaults.remove(prj.id()), removed -> {
        if (!removed) throw ProblemException.notFound("edge defaults of project " + projectId);
        return complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT));
      });
    });
  }

  private static HttpResponse ok(Object body) {
    return response(StatusCodes.OK, body);
  }

  record PutBackup(String providerId, String model, Long pricePerMtok, Long throughputTps) {
    PutBackup {
      if (providerId == null || providerId.isBlank() || providerId.length() > 64) throw new InvalidField("provider_id", "provider_id is 1 to 64 characters");
      if (model == null || model.isBlank() || model.length() > 200) throw new InvalidField("model", "model is 1 to 200 characters");
      if (pricePerMtok == null || pricePerMtok < 0 || pricePerMtok > 1_000_000_000_000L) {
        throw new InvalidField("price_per_mtok", "price_per_mtok is 0 to 1000000000000 micro-USD per million tokens");
      }
      if (throughputTps == null || throughputTps <= 0 || throughputTps > 1_000_000_000L) {
        throw new InvalidField("throughput_tps", "throughput_tps is 1 to 1000000000 tokens per second");
      }
    }

    Backup backup() {
      return new Backup(providerId, model, pricePerMtok, throughputTps, "project");
    }
  }

  /** A project's defaults for the OpenAI edge: what a request without X-Keld-* headers gets. */
  record EdgeDefaultsView(String useCase, String deadline, BigDecimal ceilingUsdPerMtok) {
    static EdgeDefaultsView of(EdgeDefaults.Defaults d) {
      return new EdgeDefaultsView(d.useCase(), d.deadline() == null ? null : d.deadline().toString(),
          d.ceilingPerMtok() == null ? null : WireMoney.usd(d.ceilingPerMtok()));
    }

    EdgeDefaults.Defaults defaults(Set<String> useCases) {
      if (useCase != null && !useCases.contains(useCase)) {
        throw new InvalidField("use_case", "unknown use case '" + useCase + "'; known: " + String.join(", ", new TreeSet<>(useCases)));
      }
      Duration d = null;
      if (deadline != null) {
        try {
          d = Duration.parse(deadline);
        } catch (DateTimeParseException e) {
          throw new InvalidField("deadline", "deadline is an ISO-8601 duration such as PT60S or PT10M");
        }
        if (d.isNegative() || d.isZero() || d.toDays() > 7) throw new InvalidField("deadline", "deadline is above 0 and at most 7 days");
      }
      Long ceiling = null;
      if (ceilingUsdPerMtok != null) {
        try {
          if (ceilingUsdPerMtok.signum() <= 0) throw new ArithmeticException();
          ceiling = WireMoney.microUsd(ceilingUsdPerMtok);
        } catch (ArithmeticException e) {
          throw new InvalidField("ceiling_usd_per_mtok", "ceiling_usd_per_mtok is above 0, with at most 6 decimals");
        }
      }
      return new EdgeDefaults.Defaults(useCase, d, ceiling);
    }
  }
}
