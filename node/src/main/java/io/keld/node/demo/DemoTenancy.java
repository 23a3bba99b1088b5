package io.keld.node.demo;

import io.keld.atlas.governance.Governance;
import io.keld.atlas.budget.BudgetPeriod;
import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletionStage;

/**
 * {@code keld start --demo}: an enterprise to try the job API with. It finds or creates the
 * organization "Demo Enterprise", its team "demo" and project "demo" with a budget of $100 a month,
 * and issues two fresh keys (keys are shown once, so every start issues new ones): one scoped to the
 * project, for jobs and the OpenAI SDK, and one for the organization's admin.
 */
public final class DemoTenancy {

  public static final String ORG_NAME = "Demo Enterprise";
  public static final long MONTHLY_HARD_CAP_MICRO_USD = 100_000_000L;

  /** What the demo set up; {@code apiKey} and {@code adminKey} are secrets shown once. */
  public record Created(String orgId, String teamId, String projectId, String apiKey, String adminKey) {}

  private DemoTenancy() {}

  public static Created create(Governance atlas) {
    Organization org = get(atlas.tenancy().organizations(null, 1000)).stream()
        .filter(o -> o.name().equals(ORG_NAME) && o.kind() == OrgKind.ENTERPRISE).findFirst()
        .orElseGet(() -> get(atlas.tenancy().createOrganization(ORG_NAME, OrgKind.ENTERPRISE)));
    Team team = get(atlas.tenancy().teams(org.id())).stream().filter(t -> t.name().equals("demo")).findFirst()
        .orElseGet(() -> get(atlas.tenancy().createTeam(org.id(), "demo")));
    Project project = get(atlas.tenancy().projects(team.id())).stream().filter(p -> p.name().equals("demo")).findFirst()
        .orElseGet(() -> get(atlas.tenancy().createProject(team, "demo")));
    get(atlas.budgets().setBudget(team.id(), project.id(), ScopeKind.PROJECT,
        new BudgetSpec(BudgetPeriod.MONTH, MONTHLY_HARD_CAP_MICRO_USD, MONTHLY_HARD_CAP_MICRO_USD * 8 / 10, null)));
    KeyStore.IssuedKey projectKey = get(atlas.keys().issue(org.id(), team.id(), project.id(), Role.ADMIN, "demo-project", "demo"));
    KeyStore.IssuedKey adminKey = get(atlas.keys().issue(org.id(), null, null, Role.ADMIN, "demo-admin", "demo"));
    return new Created(org.id(), team.id(), project.id(), projectKey.secret(), adminKey.secret());
  }

  private static <T> T get(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the demo organization could not be set up: " + e.getMessage(), e);
    }
  }
}
