package io.keld.atlas.governance;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.testkit.ApiClient;
import io.keld.testkit.TestDatabase;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The promise budgets make: a thousand concurrent reservations, from many threads and through two
 * cluster nodes over HTTP, never take a team or project past its hard cap, and every refusal names
 * the cap it hit. Runs on PostgreSQL (the production store).
 */
class BudgetConcurrencyTest {

  static final long TEAM_CAP = 300_000;
  static final long PROJECT_A_CAP = 120_000;
  static final int RESERVATIONS = 1_000;

  record Attempt(String project, long amount, int status, JsonNode body) {}

  @Test
  void concurrentReservationsNeverOverspendAndEveryRefusalNamesTheCap() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      GovernanceNode first = GovernanceNode.startReady(GovernanceNode.config(db, null));
      GovernanceNode second = null;
      ExecutorService pool = Executors.newFixedThreadPool(32);
      try {
        second = GovernanceNode.startReady(GovernanceNode.config(db, List.of(first.clusterAddress().toString())));
        String operator = first.bootstrapKey().orElseThrow().secret();
        ApiClient a = new ApiClient(first.httpAddress());
        ApiClient b = new ApiClient(second.httpAddress());

        String org = a.expect(201, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"Acme\",\"kind\":\"enterprise\"}").id();
        String team = a.expect(201, "POST", "/atlas/v1/orgs/" + org + "/teams", operator, "{\"name\":\"research\"}").id();
        String projectA = a.expect(201, "POST", "/atlas/v1/teams/" + team + "/projects", operator, "{\"name\":\"a\"}").id();
        String projectB = a.expect(201, "POST", "/atlas/v1/teams/" + team + "/projects", operator, "{\"name\":\"b\"}").id();
        a.expect(200, "PUT", "/atlas/v1/teams/" + team + "/budget", operator, "{\"period\":\"month\",\"hard_cap_micro_usd\":" + TEAM_CAP + "}");
        a.expect(200, "PUT", "/atlas/v1/projects/" + projectA + "/budget", operator, "{\"period\":\"day\",\"hard_cap_micro_usd\":" + PROJECT_A_CAP + "}");
        String member = a.expect(201, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"jobs\",\"role\":\"member\"}")
            .json().path("key").asText();

        Random random = new Random(42);
        List<Future<Attempt>> futures = new ArrayList<>();
        for (int i = 0; i < RESERVATIONS; i++) {
          ApiClient via = i % 2 == 0 ? a : b;
          String project = random.nextBoolean() ? projectA : projectB;
          long amount = 100 + random.nextInt(1_000);
          futures.add(pool.submit(() -> {
            ApiClient.Response r = via.call("POST", "/atlas/v1/projects/" + project + "/reservations", member,
                "{\"amount_micro_usd\":" + amount + ",\"tokens\":10}");
            return new Attempt(project, amount, r.status(), r.json());
          }));
        }

        long grantedTeam = 0;
        long grantedA = 0;
        int granted = 0;
        int refused = 0;
        for (Future<Attempt> f : futures) {
          Attempt at = f.get(120, TimeUnit.SECONDS);
          if (at.status() == 201) {
            granted++;
            grantedTeam += at.amount();
            if (at.project().equals(projectA)) grantedA += at.amount();
          } else {
            assertEquals(402, at.status(), "a reservation is granted or refused, nothing else: " + at.body());
            refused++;
            JsonNode p = at.body();
            assertEquals("https://keld.io/problems/budget-exceeded", p.path("type").asText());
            String scope = p.path("scope_id").asText();
            long expectedCap = scope.equals(team) ? TEAM_CAP : scope.equals(projectA) ? PROJECT_A_CAP : -1;
            assertEquals(expectedCap, p.path("cap").asLong(), "the refusal names the cap of its scope: " + p);
            assertTrue(p.path("detail").asText().contains(String.valueOf(expectedCap)), "the detail says the cap: " + p);
            assertTrue(p.path("spent").asLong() + p.path("reserved").asLong() + at.amount() > expectedCap,
                "refused only when the cap would really be passed: " + p);
          }
        }

        assertTrue(grantedTeam <= TEAM_CAP, "granted " + grantedTeam + " > team cap " + TEAM_CAP);
        assertTrue(grantedA <= PROJECT_A_CAP, "granted " + grantedA + " on project a > its cap " + PROJECT_A_CAP);
        assertTrue(refused > 0 && granted > 0, "the caps were reached: " + granted + " granted, " + refused + " refused");
        assertTrue(grantedTeam > TEAM_CAP - 1_100, "the cap was used up to the last request's size, not refused early: " + grantedTeam);

        // The entity agrees with what the callers were told, from either node.
        JsonNode teamBudget = b.expect(200, "GET", "/atlas/v1/teams/" + team + "/budget", member, null).json();
        assertEquals(grantedTeam, teamBudget.path("reserved_micro_usd").asLong());
        JsonNode projectBudget = a.expect(200, "GET", "/atlas/v1/projects/" + projectA + "/budget", member, null).json();
        assertEquals(grantedA, projectBudget.path("reserved_micro_usd").asLong());
        System.out.printf("1000 concurrent reservations over two nodes: %d granted (%d of %d micro-USD), %d refused%n",
            granted, grantedTeam, TEAM_CAP, refused);
      } finally {
        pool.shutdownNow();
        if (second != null) second.stop();
        first.stop();
      }
    }
  }
}
