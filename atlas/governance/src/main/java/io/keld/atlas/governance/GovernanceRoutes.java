package io.keld.atlas.governance;

import static io.keld.kit.JsonBodies.body;
import static io.keld.kit.JsonBodies.response;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.BudgetLedger;
import io.keld.atlas.budget.Outcome;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.atlas.governance.GovernanceJson.*;
import io.keld.atlas.keys.ApiKey;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.kit.ProblemResponses;
import io.keld.ixp.Ids;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Complete;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code /atlas/v1}: organizations, teams, projects, API keys, budgets and reservations, and the
 * audit log. Every route authenticates the key, then {@link Access} decides: invisible → 404,
 * not allowed → 403. Every state-changing call is written to the audit log before it is answered,
 * whatever its outcome.
 */
public final class GovernanceRoutes {

  private final TenancyStore tenancy;
  private final KeyStore keys;
  private final BudgetClient budgets;
  private final AuditLog audit;
  private final AuditedCalls calls;

  GovernanceRoutes(TenancyStore tenancy, KeyStore keys, BudgetClient budgets, AuditLog audit) {
    this.tenancy = tenancy;
    this.keys = keys;
    this.budgets = budgets;
    this.audit = audit;
    this.calls = new AuditedCalls(tenancy, audit);
  }

  public Route route() {
    return pathPrefix("atlas", () -> pathPrefix("v1", () -> KeyAuthentication.authenticated(keys, p -> concat(
        path("me", () -> get(() -> complete(ok(new Me(p.keyId(), p.orgId(), p.orgKind(), p.role(), p.teamId(), p.projectId()))))),
        pathPrefix("orgs", () -> concat(
            pathEnd(() -> concat(
                get(() -> parameterOptional("after", after -> parameterOptional("limit", limit -> listOrganizations(p, after, limit)))),
                post(() -> calls.audited(p, "org.create", null, t -> createOrganization(p, t))))),
            pathPrefix(PathMatchers.segment(), orgId -> concat(
                pathEnd(() -> get(() -> onSuccess(calls.visibleOrg(p, orgId), org -> complete(ok(OrganizationView.of(org)))))),
                path("teams", () -> concat(
                    get(() -> onSuccess(calls.visibleOrg(p, orgId), org -> onSuccess(tenancy.teams(org.id()),
                        teams -> complete(ok(new ListOf<>(teams.stream().filter(t -> Access.seesTeam(p, t)).map(TeamView::of).toList(), null)))))),
                    post(() -> calls.audited(p, "team.create", orgId, t -> createTeam(p, orgId, t))))),
                path("keys", () -> concat(
                    get(() -> listKeys(p, orgId)),
                    post(() -> calls.audited(p, "key.issue", orgId, t -> issueKey(p, orgId, t))))))))),
        pathPrefix("teams", () -> pathPrefix(PathMatchers.segment(), teamId -> concat(
            pathEnd(() -> get(() -> onSuccess(calls.visibleTeam(p, teamId), team -> complete(ok(TeamView.of(team)))))),
            path("projects", () -> concat(
                get(() -> onSuccess(calls.visibleTeam(p, teamId), team -> onSuccess(tenancy.projects(team.id()),
                    projects -> complete(ok(new ListOf<>(projects.stream().filter(x -> Access.seesProject(p, x)).map(ProjectView::of).toList(), null)))))),
                post(() -> calls.audited(p, "project.create", teamId, t -> createProject(p, teamId, t))))),
            path("budget", () -> concat(
                get(() -> onSuccess(calls.visibleTeam(p, teamId), team -> budgetReply(budgets.scope(team.id(), team.id()), o -> ok(BudgetView.of(o.scopes().get(0)))))),
                put(() -> calls.audited(p, "budget.set", teamId, t -> setTeamBudget(p, teamId, t))),
                delete(() -> calls.audited(p, "budget.remove", teamId, t -> removeTeamBudget(p, teamId, t)))))))),
        pathPrefix("projects", () -> pathPrefix(PathMatchers.segment(), projectId -> concat(
            pathEnd(() -> get(() -> onSuccess(calls.visibleProject(p, projectId), prj -> complete(ok(ProjectView.of(prj)))))),
            path("budget", () -> concat(
                get(() -> onSuccess(calls.visibleProject(p, projectId), prj -> budgetReply(budgets.scope(prj.teamId(), prj.id()), o -> ok(BudgetView.of(o.scopes().get(0)))))),
                put(() -> calls.audited(p, "budget.set", projectId, t -> setProjectBudget(p, projectId, t))),
                delete(() -> calls.audited(p, "budget.remove", projectId, t -> removeProjectBudget(p, projectId, t))))),
            pathPrefix("reservations", () -> concat(
                pathEnd(() -> post(() -> calls.audited(p, "budget.reserve", projectId, t -> reserve(p, projectId, t)))),
                pathPrefix(PathMatchers.segment(), rid -> concat(
                    pathEnd(() -> concat(
                        get(() -> getReservation(p, projectId, rid)),
                        delete(() -> calls.audited(p, "budget.release", projectId + "/" + rid, t -> release(p, projectId, rid, t))))),
                    path("settle", () -> post(() -> calls.audited(p, "budget.settle", projectId + "/" + rid, t -> settle(p, projectId, rid, t))))))))))),
        path(PathMatchers.segment("keys").slash(PathMatchers.segment()), keyId ->
            delete(() -> calls.audited(p, "key.revoke", keyId, t -> revokeKey(p, keyId, t)))),
        path("audit", () -> get(() -> parameterOptional("org_id", org -> parameterOptional("before", before ->
            parameterOptional("action", action -> parameterOptional("limit", limit -> auditLog(p, org, before, action, limit)))))))))));
  }

  // -- organizations ----------------------------------------------------------------------------

  private Route listOrganizations(Principal p, Optional<String> after, Optional<String> limitParam) {
    int limit = limit(limitParam, 100, 500);
    if (!p.isOperator()) {
      // Everyone else sees exactly one organization: their own.
      return onSuccess(calls.visibleOrg(p, p.orgId()), org -> complete(ok(new ListOf<>(List.of(OrganizationView.of(org)), null))));
    }
    return onSuccess(tenancy.organizations(after.orElse(null), limit), orgs -> complete(ok(new ListOf<>(
        orgs.stream().map(OrganizationView::of).toList(), orgs.size() == limit ? orgs.get(orgs.size() - 1).id() : null))));
  }

  private Route createOrganization(Principal p, AuditedCalls.AuditTarget t) {
    if (!p.isOperator()) throw AuditedCalls.forbidden("only the operator creates organizations");
    return body(CreateOrganization.class, req -> onSuccess(tenancy.createOrganization(req.name(), req.kind()), org -> {
      t.set(org.id(), org.id());
      return complete(response(StatusCodes.CREATED, OrganizationView.of(org)));
    }));
  }

  private Route createTeam(Principal p, String orgId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleOrg(p, orgId), org -> {
      t.org(org.id());
      if (!Access.managesOrg(p, org.id())) throw AuditedCalls.forbidden("creating teams needs an admin key of the whole organization");
      if (org.kind() != OrgKind.ENTERPRISE) {
        throw ProblemException.of(ProblemType.CONFLICT, "teams belong to enterprise organizations; " + org.id() + " is a " + org.kind().wire() + " organization");
      }
      return body(CreateNamed.class, req -> onSuccess(duplicateAsConflict(tenancy.createTeam(org.id(), req.name())), team -> {
        t.set(org.id(), team.id());
        return complete(response(StatusCodes.CREATED, TeamView.of(team)));
      }));
    });
  }

  private Route createProject(Principal p, String teamId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleTeam(p, teamId), team -> {
      t.org(team.orgId());
      if (!Access.managesTeam(p, team)) throw AuditedCalls.forbidden("creating projects needs an admin key of the team");
      return body(CreateNamed.class, req -> onSuccess(duplicateAsConflict(tenancy.createProject(team, req.name())), prj -> {
        t.set(team.orgId(), prj.id());
        return complete(response(StatusCodes.CREATED, ProjectView.of(prj)));
      }));
    });
  }

  // -- keys -------------------------------------------------------------------------------------

  private Route listKeys(Principal p, String orgId) {
    return onSuccess(calls.visibleOrg(p, orgId), org -> {
      if (!(p.isOperator() || p.role() == Role.ADMIN)) throw AuditedCalls.forbidden("listing keys needs an admin key");
      return onSuccess(keys.keys(org.id()), all -> complete(ok(new ListOf<>(
          all.stream().filter(k -> keyInScope(p, k)).map(k -> KeyView.of(k, null)).toList(), null))));
    });
  }

  /** A scoped admin sees and manages only the keys inside its own scope. */
  private static boolean keyInScope(Principal p, ApiKey k) {
    if (p.isOperator()) return true;
    if (!p.orgId().equals(k.orgId())) return false;
    if (p.teamId() != null && !p.teamId().equals(k.teamId())) return false;
    return p.projectId() == null || p.projectId().equals(k.projectId());
  }

  private Route issueKey(Principal p, String orgId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleOrg(p, orgId), org -> {
      t.org(org.id());
      if (!(p.isOperator() || p.role() == Role.ADMIN)) throw AuditedCalls.forbidden("issuing keys needs an admin key");
      return body(IssueKey.class, req -> {
        if (!roleFits(req.role(), org.kind())) {
          throw ProblemException.invalid("role", "a " + org.kind().wire() + " organization's keys have the role "
              + String.join(" or ", rolesOf(org.kind()).stream().map(Role::wire).toList()) + ", not " + req.role().wire());
        }
        return onSuccess(keyScope(org.id(), req.teamId(), req.projectId()), scope -> {
          String teamId = scope[0];
          String projectId = scope[1];
          if (!p.isOperator()) {
            if (p.teamId() != null && !p.teamId().equals(teamId)) throw AuditedCalls.forbidden("this key may only issue keys for team " + p.teamId());
            if (p.projectId() != null && !p.projectId().equals(projectId)) throw AuditedCalls.forbidden("this key may only issue keys for project " + p.projectId());
          }
          return onSuccess(keys.issue(org.id(), teamId, projectId, req.role(), req.name(), p.keyId()), issued -> {
            t.set(org.id(), issued.key().id());
            return complete(response(StatusCodes.CREATED, KeyView.of(issued.key(), issued.secret())));
          });
        });
      });
    });
  }

  private static List<Role> rolesOf(OrgKind kind) {
    return switch (kind) {
      case ENTERPRISE -> List.of(Role.ADMIN, Role.MEMBER, Role.READ_ONLY);
      case PROVIDER -> List.of(Role.ADMIN, Role.PROVIDER, Role.READ_ONLY);
      case OPERATOR -> List.of(Role.OPERATOR);
    };
  }

  private static boolean roleFits(Role role, OrgKind kind) {
    return rolesOf(kind).contains(role);
  }

  /** Resolves a key's scope to [teamId, projectId]; ids outside the organization are invalid (422). */
  private CompletionStage<String[]> keyScope(String orgId, String teamId, String projectId) {
    if (projectId != null) {
      return tenancy.project(projectId).thenApply(prj -> {
        if (prj.isEmpty() || !prj.get().orgId().equals(orgId)) throw ProblemException.invalid("project_id", "no project " + projectId + " in " + orgId);
        if (teamId != null && !teamId.equals(prj.get().teamId())) throw ProblemException.invalid("team_id", "project " + projectId + " is not in team " + teamId);
        return new String[] {prj.get().teamId(), projectId};
      });
    }
    if (teamId != null) {
      return tenancy.team(teamId).thenApply(team -> {
        if (team.isEmpty() || !team.get().orgId().equals(orgId)) throw ProblemException.invalid("team_id", "no team " + teamId + " in " + orgId);
        return new String[] {teamId, null};
      });
    }
    return CompletableFuture.completedFuture(new String[] {null, null});
  }

  private Route revokeKey(Principal p, String keyId, AuditedCalls.AuditTarget t) {
    return onSuccess(keys.key(keyId), found -> {
      ApiKey k = found.filter(x -> Access.seesOrg(p, x.orgId()) && keyInScope(p, x))
          .orElseThrow(() -> ProblemException.notFound("key " + keyId));
      t.org(k.orgId());
      if (!(p.isOperator() || p.role() == Role.ADMIN)) throw AuditedCalls.forbidden("revoking keys needs an admin key");
      return onSuccess(keys.revoke(k.id()), revoked -> complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT)));
    });
  }

  // -- budgets ----------------------------------------------------------------------------------

  private Route setTeamBudget(Principal p, String teamId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleTeam(p, teamId), team -> {
      t.org(team.orgId());
      if (!Access.managesTeam(p, team)) throw AuditedCalls.forbidden("setting a team's budget needs an admin key of the team");
      return body(PutBudget.class, req -> budgetReply(budgets.setBudget(team.id(), team.id(), ScopeKind.TEAM, req.spec()),
          o -> ok(BudgetView.of(o.scopes().get(0)))));
    });
  }

  private Route removeTeamBudget(Principal p, String teamId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleTeam(p, teamId), team -> {
      t.org(team.orgId());
      if (!Access.managesTeam(p, team)) throw AuditedCalls.forbidden("removing a team's budget needs an admin key of the team");
      return budgetReply(budgets.removeBudget(team.id(), team.id()), o -> HttpResponse.create().withStatus(StatusCodes.NO_CONTENT));
    });
  }

  private Route setProjectBudget(Principal p, String projectId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("setting a project's budget needs an admin key");
      return body(PutBudget.class, req -> budgetReply(budgets.setBudget(prj.teamId(), prj.id(), ScopeKind.PROJECT, req.spec()),
          o -> ok(BudgetView.of(o.scopes().get(0)))));
    });
  }

  private Route removeProjectBudget(Principal p, String projectId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.managesProject(p, prj)) throw AuditedCalls.forbidden("removing a project's budget needs an admin key");
      return budgetReply(budgets.removeBudget(prj.teamId(), prj.id()), o -> HttpResponse.create().withStatus(StatusCodes.NO_CONTENT));
    });
  }

  private Route reserve(Principal p, String projectId, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.spendsIn(p, prj)) throw AuditedCalls.forbidden("reserving budget needs a member or admin key");
      return body(Reserve.class, req -> {
        String rid = req.reservationId() != null ? req.reservationId() : Ids.next("rsv");
        t.target(prj.id() + "/" + rid);
        return budgetReply(budgets.reserve(prj.teamId(), prj.id(), rid, req.amountMicroUsd(), req.tokens()),
            o -> response(StatusCodes.CREATED, ReservationView.open(o.reservation(), prj.teamId(), o.scopes())));
      });
    });
  }

  private Route getReservation(Principal p, String projectId, String rid) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> budgetReply(budgets.reservation(prj.teamId(), rid), o -> {
      if (!o.reservation().projectId().equals(prj.id())) throw ProblemException.notFound("reservation " + rid);
      return ok(ReservationView.open(o.reservation(), prj.teamId(), o.scopes()));
    }));
  }

  private Route settle(Principal p, String projectId, String rid, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.spendsIn(p, prj)) throw AuditedCalls.forbidden("settling needs a member or admin key");
      return body(Settle.class, req -> onSuccess(reservationOfProject(prj, rid), held -> budgetReply(
          budgets.settle(prj.teamId(), rid, req.actualMicroUsd(), req.actualTokens()),
          o -> ok(new ReservationView(rid, prj.id(), prj.teamId(), "settled", held.map(r -> r.amountMicroUsd()).orElse(null),
              held.map(r -> r.tokens()).orElse(null), req.actualMicroUsd(), req.actualTokens(),
              held.map(r -> Instant.ofEpochMilli(r.reservedAt())).orElse(null), o.scopes().stream().map(BudgetView::of).toList())))));
    });
  }

  private Route release(Principal p, String projectId, String rid, AuditedCalls.AuditTarget t) {
    return onSuccess(calls.visibleProject(p, projectId), prj -> {
      t.org(prj.orgId());
      if (!Access.spendsIn(p, prj)) throw AuditedCalls.forbidden("releasing needs a member or admin key");
      return onSuccess(reservationOfProject(prj, rid), held -> budgetReply(budgets.release(prj.teamId(), rid),
          o -> ok(new ReservationView(rid, prj.id(), prj.teamId(), "released", held.map(r -> r.amountMicroUsd()).orElse(null),
              held.map(r -> r.tokens()).orElse(null), null, null, held.map(r -> Instant.ofEpochMilli(r.reservedAt())).orElse(null),
              o.scopes().stream().map(BudgetView::of).toList()))));
    });
  }

  /**
   * The open reservation, if it is one of this project's. A reservation of another project in the
   * same team is reported as missing; one already closed is left to the ledger (idempotent retry).
   */
  private CompletionStage<Optional<BudgetLedger.Reservation>> reservationOfProject(Project prj, String rid) {
    return budgets.reservation(prj.teamId(), rid).thenApply(reply -> {
      if (reply instanceof TeamBudgets.Ok ok && ok.reservation() != null) {
        if (!ok.reservation().projectId().equals(prj.id())) throw ProblemException.notFound("reservation " + rid);
        return Optional.of(ok.reservation());
      }
      return Optional.empty();
    });
  }

  private Route budgetReply(CompletionStage<TeamBudgets.Reply> stage, Function<TeamBudgets.Ok, HttpResponse> onOk) {
    return onSuccess(stage, reply -> {
      if (reply instanceof TeamBudgets.Ok ok) return complete(onOk.apply(ok));
      if (reply instanceof TeamBudgets.Refused refused) return complete(ProblemResponses.response(refused.refusal().problem()));
      TeamBudgets.Rejected r = (TeamBudgets.Rejected) reply;
      ProblemType type = r.reason() == Outcome.Reason.NOT_FOUND ? ProblemType.NOT_FOUND
          : r.reason() == Outcome.Reason.CONFLICT ? ProblemType.CONFLICT : ProblemType.INVALID_FIELD;
      return complete(ProblemResponses.response(Problem.of(type, r.detail())));
    });
  }

  // -- audit ------------------------------------------------------------------------------------

  private Route auditLog(Principal p, Optional<String> org, Optional<String> before, Optional<String> action, Optional<String> limitParam) {
    int limit = limit(limitParam, 100, 500);
    Long beforeId = before.map(b -> {
      try {
        return Long.parseLong(b);
      } catch (NumberFormatException e) {
        throw ProblemException.invalid("before", "before must be an audit entry id (a number)");
      }
    }).orElse(null);
    String orgId;
    if (p.isOperator()) {
      orgId = org.orElse(null);
    } else {
      orgId = org.orElse(p.orgId());
      if (!orgId.equals(p.orgId())) throw ProblemException.notFound("organization " + orgId);
      if (!Access.readsAudit(p, orgId)) throw AuditedCalls.forbidden("reading the audit log needs an admin key of the whole organization");
    }
    return onSuccess(audit.query(orgId, beforeId, action.orElse(null), limit), entries -> complete(ok(new ListOf<>(
        entries.stream().map(AuditView::of).toList(),
        entries.size() == limit ? String.valueOf(entries.get(entries.size() - 1).id()) : null))));
  }

  // -- lookups ----------------------------------------------------------------------------------

  private static <T> CompletionStage<T> duplicateAsConflict(CompletionStage<T> stage) {
    return stage.exceptionally(e -> {
      Throwable c = ProblemResponses.cause(e);
      if (c instanceof TenancyStore.DuplicateNameException d) throw ProblemException.of(ProblemType.CONFLICT, d.getMessage());
      if (c instanceof RuntimeException re) throw re;
      throw new CompletionException(c);
    });
  }

  private static HttpResponse ok(Object body) {
    return response(StatusCodes.OK, body);
  }

  private static int limit(Optional<String> param, int dflt, int max) {
    if (param.isEmpty()) return dflt;
    try {
      int n = Integer.parseInt(param.get());
      if (n < 1 || n > max) throw new NumberFormatException();
      return n;
    } catch (NumberFormatException e) {
      throw ProblemException.invalid("limit", "limit must be a whole number from 1 to " + max);
    }
  }
}
