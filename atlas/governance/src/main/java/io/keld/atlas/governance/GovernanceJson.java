package io.keld.atlas.governance;

import io.keld.atlas.audit.AuditEntry;
import io.keld.atlas.budget.BudgetLedger;
import io.keld.atlas.budget.BudgetPeriod;
import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.budget.ScopeView;
import io.keld.atlas.keys.ApiKey;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.kit.InvalidField;
import java.time.Instant;
import java.util.List;

/**
 * The JSON messages of {@code /atlas/v1} (snake_case on the wire, see {@code ixp/spec/atlas.openapi.yaml}).
 * Requests validate themselves: a bad value throws {@link IllegalArgumentException}, which the
 * JSON reader turns into a 422 problem naming the member.
 */
final class GovernanceJson {

  private GovernanceJson() {}

  static String validName(String name) {
    if (name == null || name.isBlank()) throw new InvalidField("name", "name is required");
    String n = name.strip();
    if (n.length() > 200) throw new InvalidField("name", "name must be at most 200 characters");
    return n;
  }

  // -- requests ---------------------------------------------------------------------------------

  record CreateOrganization(String name, OrgKind kind) {
    CreateOrganization {
      name = validName(name);
      if (kind == null || kind == OrgKind.OPERATOR) throw new InvalidField("kind", "kind must be 'enterprise' or 'provider'");
    }
  }

  record CreateNamed(String name) {
    CreateNamed {
      name = validName(name);
    }
  }

  record IssueKey(String name, Role role, String teamId, String projectId) {
    IssueKey {
      name = validName(name);
      if (role == null) throw new InvalidField("role", "role must be one of operator, admin, member, read-only, provider");
    }
  }

  record PutBudget(BudgetPeriod period, Long hardCapMicroUsd, Long softCapMicroUsd, Long tokenQuota) {
    PutBudget {
      new BudgetSpec(period, hardCapMicroUsd, softCapMicroUsd, tokenQuota); // validates while the body is read: a 422, not a 500
    }

    BudgetSpec spec() {
      return new BudgetSpec(period, hardCapMicroUsd, softCapMicroUsd, tokenQuota);
    }
  }

  /** A project's backup policy: a direct provider at list price, and what it sustains for one job. */
  record Reserve(String reservationId, Long amountMicroUsd, Long tokens) {
    Reserve {
      if (amountMicroUsd == null) throw new InvalidField("amount_micro_usd", "amount_micro_usd is required");
      if (amountMicroUsd < 0 || amountMicroUsd > BudgetLedger.MAX_AMOUNT_MICRO_USD) {
        throw new InvalidField("amount_micro_usd", "amount_micro_usd must be 0 to " + BudgetLedger.MAX_AMOUNT_MICRO_USD);
      }
      if (tokens == null) tokens = 0L;
      if (tokens < 0) throw new InvalidField("tokens", "tokens must not be negative");
      if (reservationId != null && !reservationId.matches("[A-Za-z0-9_.:-]{1,64}")) {
        throw new InvalidField("reservation_id", "reservation_id must be 1 to 64 letters, digits, '_', '-', '.' or ':'");
      }
    }
  }

  record Settle(Long actualMicroUsd, Long actualTokens) {
    Settle {
      if (actualMicroUsd == null) throw new InvalidField("actual_micro_usd", "actual_micro_usd is required");
      if (actualMicroUsd < 0 || actualMicroUsd > BudgetLedger.MAX_AMOUNT_MICRO_USD) {
        throw new InvalidField("actual_micro_usd", "actual_micro_usd must be 0 to " + BudgetLedger.MAX_AMOUNT_MICRO_USD);
      }
      if (actualTokens == null) actualTokens = 0L;
      if (actualTokens < 0) throw new InvalidField("actual_tokens", "actual_tokens must not be negative");
    }
  }

  // -- responses --------------------------------------------------------------------------------

  record ListOf<T>(List<T> data, String next) {}

  record Me(String keyId, String orgId, OrgKind orgKind, Role role, String teamId, String projectId) {}

  record OrganizationView(String id, String name, OrgKind kind, Instant createdAt) {
    static OrganizationView of(Organization o) {
      return new OrganizationView(o.id(), o.name(), o.kind(), o.createdAt());
    }
  }

  record TeamView(String id, String orgId, String name, Instant createdAt) {
    static TeamView of(Team t) {
      return new TeamView(t.id(), t.orgId(), t.name(), t.createdAt());
    }
  }

  record ProjectView(String id, String orgId, String teamId, String name, Instant createdAt) {
    static ProjectView of(Project p) {
      return new ProjectView(p.id(), p.orgId(), p.teamId(), p.name(), p.createdAt());
    }
  }

  /** {@code key} is set only in the response that issued it. */
  record KeyView(String id, String orgId, String teamId, String projectId, Role role, String name, String hint,
      Instant createdAt, String createdBy, Instant revokedAt, String key) {
    static KeyView of(ApiKey k, String secret) {
      return new KeyView(k.id(), k.orgId(), k.teamId(), k.projectId(), k.role(), k.name(), k.hint(), k.createdAt(),
          k.createdBy(), k.revokedAt(), secret);
    }
  }

  record BudgetLimits(BudgetPeriod period, Long hardCapMicroUsd, Long softCapMicroUsd, Long tokenQuota) {}

  /** A scope's budget (null when none is set) and its usage in the current period. */
  record BudgetView(String scopeId, ScopeKind scopeKind, BudgetLimits budget, BudgetPeriod period, Instant periodStart,
      Instant periodEnd, long spentMicroUsd, long reservedMicroUsd, Long remainingMicroUsd, long tokensSpent,
      long tokensReserved, Long tokensRemaining, Instant softCapAlertedAt) {
    static BudgetView of(ScopeView v) {
      BudgetSpec s = v.spec();
      BudgetLimits limits = s == null ? null : new BudgetLimits(s.period(), s.hardCapMicroUsd(), s.softCapMicroUsd(), s.tokenQuota());
      Long remaining = s == null || s.hardCapMicroUsd() == null ? null
          : Math.max(0, s.hardCapMicroUsd() - v.spentMicroUsd() - v.reservedMicroUsd());
      Long tokensRemaining = s == null || s.tokenQuota() == null ? null
          : Math.max(0, s.tokenQuota() - v.tokensSpent() - v.tokensReserved());
      return new BudgetView(v.scopeId(), v.kind(), limits, v.period(), Instant.ofEpochMilli(v.periodStart()),
          Instant.ofEpochMilli(v.periodEnd()), v.spentMicroUsd(), v.reservedMicroUsd(), remaining, v.tokensSpent(),
          v.tokensReserved(), tokensRemaining, v.softCapAlertedAt() == null ? null : Instant.ofEpochMilli(v.softCapAlertedAt()));
    }
  }

  /** {@code status}: {@code open}, {@code settled} or {@code released}. */
  record ReservationView(String reservationId, String projectId, String teamId, String status, Long amountMicroUsd,
      Long tokens, Long actualMicroUsd, Long actualTokens, Instant reservedAt, List<BudgetView> scopes) {
    static ReservationView open(BudgetLedger.Reservation r, String teamId, List<ScopeView> scopes) {
      return new ReservationView(r.reservationId(), r.projectId(), teamId, "open", r.amountMicroUsd(), r.tokens(), null, null,
          Instant.ofEpochMilli(r.reservedAt()), scopes.stream().map(BudgetView::of).toList());
    }
  }

  record AuditView(long id, Instant at, String orgId, String keyId, String action, String target, String outcome, int status,
      String detail) {
    static AuditView of(AuditEntry e) {
      return new AuditView(e.id(), e.at(), e.orgId(), e.keyId(), e.action(), e.target(), e.outcome(), e.status(), e.detail());
    }
  }
}
