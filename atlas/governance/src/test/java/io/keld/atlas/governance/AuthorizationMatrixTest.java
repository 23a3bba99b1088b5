package io.keld.atlas.governance;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.testkit.TestDatabase;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.util.Collections;

/**
 * The authorization matrix of {@code /atlas/v1}, over real HTTP against one real node on PostgreSQL:
 * every route, called by every kind of key (operator; admin, member, read-only, team-scoped admin and
 * project-scoped member of two enterprise tenants; admin and provider of a provider organization;
 * revoked, malformed, wrong-secret and missing keys) on resources inside and outside the key's
 * organization and scope.
 *
 * <p>The expected answer of each case is computed here, independently, from the rules documented
 * on {@code io.keld.atlas.governance.Access}: a missing or bad key is 401; a resource the key cannot see
 * (another organization, or outside its team/project scope) is 404, exactly as if it did not exist;
 * a visible resource the key's role may not act on is 403; everything else succeeds. Allowed
 * requests are made valid (fresh names, fresh reservations, a fresh key to revoke, a budget to
 * remove) so that they must succeed.
 *
 * <p>Beyond the status, every response is checked for leaks: no body shown to a non-operator key
 * names a resource that key cannot see (ids the caller itself sent are excepted), and the secret
 * {@code key} member appears only in the answer of {@code POST /orgs/{org}/keys}.
 *
 * <p>All mismatches are collected and reported together.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthorizationMatrixTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int PARALLELISM = 4;

  enum Kind { OPERATOR, ADMIN, MEMBER, READ_ONLY, PROVIDER, INVALID }

  enum Expect { ALLOWED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND }

  /** What a route acts on: nothing in particular, an organization, a team, or a project. */
  enum Level { NONE, ORG, TEAM, PROJECT }

  /** A caller. {@code secret} is what goes in the Authorization header (null: no header). */
  record Who(String name, String secret, Kind kind, String keyId, String org, String team, String project) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** A target of a route: an organization, and for team/project routes a team and one of its projects. */
  record Target(String label, String org, String team, String project, boolean providerOrg) {}

  /** Where a resource lives, for the leak check. */
  record Owner(String org, String team, String project) {}

  record Req(String path, String body) {}

  record Resp(int status, String body) {}

  record Route(String id, String method, String template, Level level, Function<Target, Req> prepare) {}

  record Tenant(String label, String org, String t1, String t2, String p1, String p2) {}

  private TestDatabase db;
  private GovernanceNode node;
  private HttpClient http;
  private String base;
  private String operatorSecret;

  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final AtomicInteger seq = new AtomicInteger();
  private final Object budgetLock = new Object();

  /** Every tenant resource id the test knows of, and where it lives. */
  private final Map<String, Owner> owners = new ConcurrentHashMap<>();
  /** Every real key secret the test has seen. */
  private final Set<String> secrets = ConcurrentHashMap.newKeySet();
  /** One reservation per project that stays open, for GET .../reservations/{rid}. */
  private final Map<String, String> openReservation = new HashMap<>();

  private final List<Who> principals = new ArrayList<>();
  private final List<Target> orgTargets = new ArrayList<>();
  private final List<Target> scopeTargets = new ArrayList<>();
  private final List<Route> routes = new ArrayList<>();

  @BeforeAll
  void start() {
    db = TestDatabase.postgres();
    node = GovernanceNode.startReady(GovernanceNode.config(db, null));
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    base = "http://127.0.0.1:" + node.httpAddress().getPort() + "/atlas/v1";
    operatorSecret = node.bootstrapKey().orElseThrow(() -> new IllegalStateException("no bootstrap key on a fresh database")).secret();
    secrets.add(operatorSecret);
    setUpTenants();
    defineRoutes();
  }

  @AfterAll
  void stop() {
    try {
      if (node != null) node.stop();
    } finally {
      if (db != null) db.close();
    }
  }

  // -- the matrix -------------------------------------------------------------------------------

  @Test
  void everyRouteAnswersEveryKeyAsTheAccessRulesSay() throws Exception {
    long started = System.nanoTime();
    // One task per principal, a few at a time; results are merged in principal order.
    ExecutorService pool = Executors.newFixedThreadPool(PARALLELISM);
    List<Future<Outcome>> futures = new ArrayList<>();
    try {
      for (Who p : principals) futures.add(pool.submit(() -> runCases(p)));
      List<String> statusMismatches = new ArrayList<>();
      List<String> leaks = new ArrayList<>();
      Map<Expect, Integer> tally = new EnumMap<>(Expect.class);
      Set<String> routesCovered = new HashSet<>();
      int cases = 0;
      for (Future<Outcome> f : futures) {
        Outcome o = f.get(5, TimeUnit.MINUTES);
        cases += o.cases;
        statusMismatches.addAll(o.statusMismatches);
        leaks.addAll(o.leaks);
        o.tally.forEach((k, v) -> tally.merge(k, v, Integer::sum));
        routesCovered.addAll(o.routesCovered);
      }

      double seconds = (System.nanoTime() - started) / 1e9;
      System.out.printf("AuthorizationMatrixTest: %d cases (%d principals, %d route variants over %d distinct routes) in %.1f s; expected %s%n",
          cases, principals.size(), routes.size(), routesCovered.size(), seconds, tally);

      if (!statusMismatches.isEmpty() || !leaks.isEmpty()) {
        StringBuilder sb = new StringBuilder();
        sb.append(statusMismatches.size()).append(" status mismatch(es) and ").append(leaks.size())
            .append(" body problem(s) in ").append(cases).append(" cases\n");
        if (!statusMismatches.isEmpty()) {
          sb.append("\n== status mismatches ==\n");
          statusMismatches.forEach(s -> sb.append(s).append('\n'));
        }
        if (!leaks.isEmpty()) {
          sb.append("\n== body problems (leaks, secrets, wrong content) ==\n");
          leaks.forEach(s -> sb.append(s).append('\n'));
        }
        System.out.println(sb);
        fail(sb.toString());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** What one principal's cases found. */
  private static final class Outcome {
    int cases;
    final List<String> statusMismatches = new ArrayList<>();
    final List<String> leaks = new ArrayList<>();
    final Map<Expect, Integer> tally = new EnumMap<>(Expect.class);
    final Set<String> routesCovered = new HashSet<>();
  }

  private Outcome runCases(Who p) {
    Outcome out = new Outcome();
    for (Route r : routes) {
      for (Target t : targetsOf(r)) {
        Req req;
        Resp resp;
        if (isBudgetWrite(r)) {
          // Budgets of the shared teams/projects are set and removed by every principal: one at a time,
          // so that the budget the preparation put is still there when the case removes it.
          synchronized (budgetLock) {
            req = r.prepare().apply(t);
            resp = send(r.method(), req.path(), req.body(), p.secret());
          }
        } else {
          req = r.prepare().apply(t);
          resp = send(r.method(), req.path(), req.body(), p.secret());
        }
        out.cases++;
        out.routesCovered.add(r.method() + " " + r.template());
        Expect expected = expected(r.id(), p, t);
        out.tally.merge(expected, 1, Integer::sum);
        if (!matches(expected, resp.status(), allowedAlternative(r.id(), t))) {
          out.statusMismatches.add(describe(p, r, req, t, "expected " + expected + ", got " + resp.status(), resp));
        }
        checkBody(p, r, req, t, resp, out.leaks);
        remember(r, t, resp);
      }
    }
    return out;
  }

  private static boolean isBudgetWrite(Route r) {
    return r.id().endsWith(".budget.put") || r.id().endsWith(".budget.delete");
  }

  private List<Target> targetsOf(Route r) {
    switch (r.level()) {
      case NONE:
        return Collections.singletonList(null);
      case ORG:
        return orgTargets;
      default:
        return scopeTargets;
    }
  }

  private static boolean matches(Expect e, int status, Integer alternative) {
    switch (e) {
      case ALLOWED:
        return (status >= 200 && status < 300) || (alternative != null && status == alternative);
      case UNAUTHORIZED:
        return status == 401;
      case FORBIDDEN:
        return status == 403;
      case NOT_FOUND:
        return status == 404;
      default:
        throw new AssertionError(e);
    }
  }

  /**
   * A non-2xx status that still means "authorized": teams belong to enterprise organizations, so an
   * authorized attempt to create one in a provider organization is a 409 conflict, not an auth answer.
   */
  private static Integer allowedAlternative(String route, Target t) {
    if (route.equals("teams.create") && t != null && t.providerOrg()) return 409;
    return null;
  }

  // -- expectations, from the rules table of Access (independent of its code) --------------------

  /**
   * What the rules say. Visibility first (404), then role (403):
   * <ul>
   *   <li>read (orgs, teams, projects, budgets, reservations): any valid key on what it can see;</li>
   *   <li>reserve / settle / release: operator, admin, member;</li>
   *   <li>create teams, issue org-wide keys: operator, unscoped admin;</li>
   *   <li>create projects, set budgets, issue / revoke / list keys within scope: operator, admin;</li>
   *   <li>audit log: operator (all orgs), unscoped admin (own org only);</li>
   *   <li>create organizations: operator.</li>
   * </ul>
   */
  static Expect expected(String route, Who p, Target t) {
    if (p.kind() == Kind.INVALID) return Expect.UNAUTHORIZED;
    boolean operator = p.kind() == Kind.OPERATOR;
    boolean admin = p.kind() == Kind.ADMIN;
    boolean member = p.kind() == Kind.MEMBER;
    boolean unscoped = p.team() == null && p.project() == null;
    boolean manages = operator || admin;
    boolean spends = operator || admin || member;

    switch (route) {
      case "me":
      case "orgs.list":
        return Expect.ALLOWED;
      case "orgs.create":
        return operator ? Expect.ALLOWED : Expect.FORBIDDEN;

      case "org.get":
      case "teams.list":
        return seesOrg(p, t.org()) ? Expect.ALLOWED : Expect.NOT_FOUND;
      case "teams.create":
        if (!seesOrg(p, t.org())) return Expect.NOT_FOUND;
        return operator || (admin && unscoped) ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "keys.list":
        if (!seesOrg(p, t.org())) return Expect.NOT_FOUND;
        return manages ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "keys.issue.org":
        if (!seesOrg(p, t.org())) return Expect.NOT_FOUND;
        return operator || (admin && unscoped) ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "keys.issue.team":
        // A key for a team: within the scope of an admin of the whole org or of that team.
        if (!seesOrg(p, t.org())) return Expect.NOT_FOUND;
        return operator || (admin && p.project() == null && (p.team() == null || p.team().equals(t.team())))
            ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "keys.issue.project":
        if (!seesOrg(p, t.org())) return Expect.NOT_FOUND;
        return operator || (admin && (p.team() == null || p.team().equals(t.team()))
            && (p.project() == null || p.project().equals(t.project()))) ? Expect.ALLOWED : Expect.FORBIDDEN;

      case "key.revoke.org":
        if (!seesKey(p, t.org(), null, null)) return Expect.NOT_FOUND;
        return manages ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "key.revoke.team":
        if (!seesKey(p, t.org(), t.team(), null)) return Expect.NOT_FOUND;
        return manages ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "key.revoke.project":
        if (!seesKey(p, t.org(), t.team(), t.project())) return Expect.NOT_FOUND;
        return manages ? Expect.ALLOWED : Expect.FORBIDDEN;

      case "team.get":
      case "projects.list":
      case "team.budget.get":
        return seesTeam(p, t) ? Expect.ALLOWED : Expect.NOT_FOUND;
      case "projects.create":
      case "team.budget.put":
      case "team.budget.delete":
        if (!seesTeam(p, t)) return Expect.NOT_FOUND;
        return operator || (admin && p.project() == null) ? Expect.ALLOWED : Expect.FORBIDDEN;

      case "project.get":
      case "project.budget.get":
      case "reservation.get":
        return seesProject(p, t) ? Expect.ALLOWED : Expect.NOT_FOUND;
      case "project.budget.put":
      case "project.budget.delete":
        if (!seesProject(p, t)) return Expect.NOT_FOUND;
        return manages ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "reserve":
      case "release":
      case "settle":
        if (!seesProject(p, t)) return Expect.NOT_FOUND;
        return spends ? Expect.ALLOWED : Expect.FORBIDDEN;

      case "audit":
        return operator || (admin && unscoped) ? Expect.ALLOWED : Expect.FORBIDDEN;
      case "audit.org":
        if (operator) return Expect.ALLOWED;
        if (!p.org().equals(t.org())) return Expect.NOT_FOUND;
        return admin && unscoped ? Expect.ALLOWED : Expect.FORBIDDEN;
      default:
        throw new AssertionError("no rule for route " + route);
    }
  }

  private static boolean seesOrg(Who p, String org) {
    return p.kind() == Kind.OPERATOR || p.org().equals(org);
  }

  /** A team is visible in its org to unscoped keys and to keys scoped to it (or to one of its projects). */
  private static boolean seesTeam(Who p, Target t) {
    return seesOrg(p, t.org()) && (p.team() == null || p.team().equals(t.team()));
  }

  private static boolean seesProject(Who p, Target t) {
    return seesTeam(p, t) && (p.project() == null || p.project().equals(t.project()));
  }

  /** A key is visible to keys of its org whose scope contains the key's scope. */
  private static boolean seesKey(Who p, String org, String team, String project) {
    return seesOrg(p, org)
        && (p.team() == null || p.team().equals(team))
        && (p.project() == null || p.project().equals(project));
  }

  // -- body checks ------------------------------------------------------------------------------

  private void checkBody(Who p, Route r, Req req, Target t, Resp resp, List<String> problems) {
    String body = resp.body() == null ? "" : resp.body();
    boolean issuing = r.id().startsWith("keys.issue.") && resp.status() == 201;

    // The secret: only the answer that issues a key carries one, and only that new key's.
    for (String s : secrets) {
      if (body.contains(s)) problems.add(describe(p, r, req, t, "body contains the secret of a known key", resp));
    }
    JsonNode json = parse(body);
    if (json != null) {
      boolean hasKeyMember = json.has("key") || anyDataItemHas(json, "key");
      if (hasKeyMember && !issuing) problems.add(describe(p, r, req, t, "body has a 'key' member (secret) outside POST /orgs/{org}/keys", resp));
      if (issuing && !(json.hasNonNull("key") && json.get("key").asText().startsWith("keld_"))) {
        problems.add(describe(p, r, req, t, "the answer that issued a key lacks its 'key'", resp));
      }
    }

    // Nothing of a tenant or scope the caller cannot see. The operator sees everything.
    if (p.kind() != Kind.OPERATOR) {
      String scanned = body;
      if (r.id().startsWith("audit") && json != null) scanned = withoutOwnDeniedTargets(p, json);
      for (Map.Entry<String, Owner> e : owners.entrySet()) {
        String id = e.getKey();
        if (visible(p, e.getValue())) continue;
        if (req.path().contains(id) || (req.body() != null && req.body().contains(id))) continue; // echoed back
        if (scanned.contains(id)) {
          problems.add(describe(p, r, req, t, "body names " + id + " of " + e.getValue() + ", which this key cannot see", resp));
        }
      }
    }

    // Content the rules pin down.
    if (resp.status() == 200 && json != null && p.kind() != Kind.INVALID) {
      if (r.id().equals("me")) {
        String want = "key_id=" + p.keyId() + " org_id=" + p.org() + " role=" + wire(p.kind()) + " team_id=" + p.team()
            + " project_id=" + p.project();
        String got = "key_id=" + text(json, "key_id") + " org_id=" + text(json, "org_id") + " role=" + text(json, "role")
            + " team_id=" + text(json, "team_id") + " project_id=" + text(json, "project_id");
        if (!want.equals(got)) problems.add(describe(p, r, req, t, "/me says " + got + ", expected " + want, resp));
      }
      if (r.id().equals("orgs.list") && p.kind() != Kind.OPERATOR) {
        JsonNode data = json.path("data");
        if (data.size() != 1 || !p.org().equals(data.get(0).path("id").asText())) {
          problems.add(describe(p, r, req, t, "GET /orgs should list exactly the key's own organization " + p.org(), resp));
        }
      }
      if (r.id().equals("audit.org") || r.id().equals("audit")) {
        for (JsonNode entry : json.path("data")) {
          if (p.kind() != Kind.OPERATOR && !p.org().equals(entry.path("org_id").asText())) {
            problems.add(describe(p, r, req, t, "audit entry of another organization: " + entry, resp));
            break;
          }
        }
      }
    }
  }

  /**
   * The audit log records denied calls under the caller's organization with the target the caller
   * asked for, which may be another tenant's id the caller itself sent. Those targets are blanked
   * before the leak scan; everything else in the log is scanned.
   */
  private String withoutOwnDeniedTargets(Who p, JsonNode json) {
    JsonNode copy = json.deepCopy();
    for (JsonNode entry : copy.path("data")) {
      Owner keyOwner = owners.get(entry.path("key_id").asText());
      boolean ownKey = keyOwner != null && keyOwner.org().equals(p.org());
      if ("denied".equals(entry.path("outcome").asText()) && ownKey && entry instanceof ObjectNode) {
        ((ObjectNode) entry).put("target", "");
      }
    }
    return copy.toString();
  }

  private static boolean visible(Who p, Owner o) {
    if (p.kind() == Kind.OPERATOR) return true;
    if (p.kind() == Kind.INVALID) return false;
    return o.org().equals(p.org())
        && (p.team() == null || o.team() == null || p.team().equals(o.team()))
        && (p.project() == null || o.project() == null || p.project().equals(o.project()));
  }

  private static boolean anyDataItemHas(JsonNode json, String member) {
    for (JsonNode item : json.path("data")) {
      if (item.has(member)) return true;
    }
    return false;
  }

  /** Learns the ids (and secrets) of whatever a case created. */
  private void remember(Route r, Target t, Resp resp) {
    if (resp.status() < 200 || resp.status() >= 300) return;
    JsonNode json = parse(resp.body());
    if (json == null) return;
    switch (r.id()) {
      case "orgs.create": {
        String id = json.path("id").asText();
        owners.put(id, new Owner(id, null, null));
        break;
      }
      case "teams.create":
        owners.put(json.path("id").asText(), new Owner(t.org(), json.path("id").asText(), null));
        break;
      case "projects.create":
        owners.put(json.path("id").asText(), new Owner(t.org(), t.team(), json.path("id").asText()));
        break;
      case "keys.issue.org":
      case "keys.issue.team":
      case "keys.issue.project":
        rememberKey(json);
        break;
      case "reserve":
        owners.put(json.path("reservation_id").asText(), new Owner(t.org(), t.team(), t.project()));
        break;
      default:
        break;
    }
  }

  private void rememberKey(JsonNode keyView) {
    owners.put(keyView.path("id").asText(), new Owner(keyView.path("org_id").asText(),
        keyView.hasNonNull("team_id") ? keyView.get("team_id").asText() : null,
        keyView.hasNonNull("project_id") ? keyView.get("project_id").asText() : null));
    if (keyView.hasNonNull("key")) secrets.add(keyView.get("key").asText());
  }

  // -- routes -----------------------------------------------------------------------------------

  private void defineRoutes() {
    add("me", "GET", "/me", Level.NONE, t -> new Req("/me", null));
    add("orgs.list", "GET", "/orgs", Level.NONE, t -> new Req("/orgs", null));
    add("orgs.create", "POST", "/orgs", Level.NONE, t -> new Req("/orgs", json("name", name("org"), "kind", "enterprise")));

    add("org.get", "GET", "/orgs/{org}", Level.ORG, t -> new Req("/orgs/" + t.org(), null));
    add("teams.list", "GET", "/orgs/{org}/teams", Level.ORG, t -> new Req("/orgs/" + t.org() + "/teams", null));
    add("teams.create", "POST", "/orgs/{org}/teams", Level.ORG, t -> new Req("/orgs/" + t.org() + "/teams", json("name", name("team"))));
    add("keys.list", "GET", "/orgs/{org}/keys", Level.ORG, t -> new Req("/orgs/" + t.org() + "/keys", null));
    add("keys.issue.org", "POST", "/orgs/{org}/keys", Level.ORG, t -> new Req("/orgs/" + t.org() + "/keys",
        json("name", name("key"), "role", t.providerOrg() ? "read-only" : "member")));
    add("keys.issue.team", "POST", "/orgs/{org}/keys", Level.TEAM, t -> new Req("/orgs/" + t.org() + "/keys",
        json("name", name("key"), "role", "member", "team_id", t.team())));
    add("keys.issue.project", "POST", "/orgs/{org}/keys", Level.PROJECT, t -> new Req("/orgs/" + t.org() + "/keys",
        json("name", name("key"), "role", "member", "project_id", t.project())));

    add("key.revoke.org", "DELETE", "/keys/{key}", Level.ORG,
        t -> new Req("/keys/" + operatorIssuesKey(t.org(), null, null, t.providerOrg() ? "read-only" : "member"), null));
    add("key.revoke.team", "DELETE", "/keys/{key}", Level.TEAM,
        t -> new Req("/keys/" + operatorIssuesKey(t.org(), t.team(), null, "member"), null));
    add("key.revoke.project", "DELETE", "/keys/{key}", Level.PROJECT,
        t -> new Req("/keys/" + operatorIssuesKey(t.org(), null, t.project(), "member"), null));

    add("team.get", "GET", "/teams/{team}", Level.TEAM, t -> new Req("/teams/" + t.team(), null));
    add("projects.list", "GET", "/teams/{team}/projects", Level.TEAM, t -> new Req("/teams/" + t.team() + "/projects", null));
    add("projects.create", "POST", "/teams/{team}/projects", Level.TEAM,
        t -> new Req("/teams/" + t.team() + "/projects", json("name", name("prj"))));
    add("team.budget.get", "GET", "/teams/{team}/budget", Level.TEAM, t -> new Req("/teams/" + t.team() + "/budget", null));
    add("team.budget.put", "PUT", "/teams/{team}/budget", Level.TEAM, t -> new Req("/teams/" + t.team() + "/budget", budget()));
    add("team.budget.delete", "DELETE", "/teams/{team}/budget", Level.TEAM, t -> {
      operator("PUT", "/teams/" + t.team() + "/budget", budget()); // so that there is one to remove
      return new Req("/teams/" + t.team() + "/budget", null);
    });

    add("project.get", "GET", "/projects/{prj}", Level.PROJECT, t -> new Req("/projects/" + t.project(), null));
    add("project.budget.get", "GET", "/projects/{prj}/budget", Level.PROJECT, t -> new Req("/projects/" + t.project() + "/budget", null));
    add("project.budget.put", "PUT", "/projects/{prj}/budget", Level.PROJECT, t -> new Req("/projects/" + t.project() + "/budget", budget()));
    add("project.budget.delete", "DELETE", "/projects/{prj}/budget", Level.PROJECT, t -> {
      operator("PUT", "/projects/" + t.project() + "/budget", budget());
      return new Req("/projects/" + t.project() + "/budget", null);
    });
    add("reserve", "POST", "/projects/{prj}/reservations", Level.PROJECT, t -> new Req("/projects/" + t.project() + "/reservations",
        json("reservation_id", reservationId(), "amount_micro_usd", 10, "tokens", 1)));
    add("reservation.get", "GET", "/projects/{prj}/reservations/{rid}", Level.PROJECT,
        t -> new Req("/projects/" + t.project() + "/reservations/" + openReservation.get(t.project()), null));
    add("release", "DELETE", "/projects/{prj}/reservations/{rid}", Level.PROJECT,
        t -> new Req("/projects/" + t.project() + "/reservations/" + operatorReserves(t), null));
    add("settle", "POST", "/projects/{prj}/reservations/{rid}/settle", Level.PROJECT,
        t -> new Req("/projects/" + t.project() + "/reservations/" + operatorReserves(t) + "/settle",
            json("actual_micro_usd", 7, "actual_tokens", 1)));

    add("audit", "GET", "/audit", Level.NONE, t -> new Req("/audit", null));
    add("audit.org", "GET", "/audit?org_id={org}", Level.ORG, t -> new Req("/audit?org_id=" + t.org(), null));
  }

  private void add(String id, String method, String template, Level level, Function<Target, Req> prepare) {
    routes.add(new Route(id, method, template, level, prepare));
  }

  // -- setup ------------------------------------------------------------------------------------

  private void setUpTenants() {
    JsonNode me = operator("GET", "/me", null);
    principals.add(new Who("operator", operatorSecret, Kind.OPERATOR, me.path("key_id").asText(), me.path("org_id").asText(), null, null));

    Tenant a = tenant("A");
    Tenant b = tenant("B");
    String v = createOrg("V", "provider");

    for (Tenant x : List.of(a, b)) {
      principals.add(principal(x.label() + ".admin", Kind.ADMIN, x.org(), null, null));
      principals.add(principal(x.label() + ".member", Kind.MEMBER, x.org(), null, null));
      principals.add(principal(x.label() + ".read-only", Kind.READ_ONLY, x.org(), null, null));
      principals.add(principal(x.label() + ".admin@T1", Kind.ADMIN, x.org(), x.t1(), null));
      // A project-scoped key lives in its project's team: its scope is (T1, P1).
      Who m = principal(x.label() + ".member@P1", Kind.MEMBER, x.org(), null, x.p1());
      principals.add(new Who(m.name(), m.secret(), m.kind(), m.keyId(), m.org(), x.t1(), x.p1()));
    }
    principals.add(principal("V.admin", Kind.ADMIN, v, null, null));
    principals.add(principal("V.provider", Kind.PROVIDER, v, null, null));

    // Keys that must not authenticate.
    JsonNode revoked = operatorIssue(a.org(), null, null, "admin");
    operator("DELETE", "/keys/" + revoked.path("id").asText(), null);
    principals.add(new Who("revoked(A.admin)", revoked.path("key").asText(), Kind.INVALID, null, null, null, null));
    principals.add(new Who("malformed", "keld_this-is-not-a-key", Kind.INVALID, null, null, null, null));
    String good = principals.stream().filter(w -> w.name().equals("A.member")).findFirst().orElseThrow().secret();
    char last = good.charAt(good.length() - 1);
    String wrongSecret = good.substring(0, good.length() - 1) + (last == 'a' ? 'b' : 'a');
    principals.add(new Who("wrong-secret(A.member)", wrongSecret, Kind.INVALID, null, null, null, null));
    principals.add(new Who("no-key", null, Kind.INVALID, null, null, null, null));

    orgTargets.add(new Target("A", a.org(), null, null, false));
    orgTargets.add(new Target("B", b.org(), null, null, false));
    orgTargets.add(new Target("V", v, null, null, true));
    for (Tenant x : List.of(a, b)) {
      scopeTargets.add(new Target(x.label() + ".T1/P1", x.org(), x.t1(), x.p1(), false));
      scopeTargets.add(new Target(x.label() + ".T2/P2", x.org(), x.t2(), x.p2(), false));
    }
    for (Target t : scopeTargets) openReservation.put(t.project(), operatorReserves(t));
  }

  private Tenant tenant(String label) {
    String org = createOrg(label, "enterprise");
    String t1 = createTeam(org);
    String t2 = createTeam(org);
    String p1 = createProject(org, t1);
    String p2 = createProject(org, t2);
    return new Tenant(label, org, t1, t2, p1, p2);
  }

  private String createOrg(String label, String kind) {
    String id = operator("POST", "/orgs", json("name", name("org-" + label), "kind", kind)).path("id").asText();
    owners.put(id, new Owner(id, null, null));
    return id;
  }

  private String createTeam(String org) {
    String id = operator("POST", "/orgs/" + org + "/teams", json("name", name("team"))).path("id").asText();
    owners.put(id, new Owner(org, id, null));
    return id;
  }

  private String createProject(String org, String team) {
    String id = operator("POST", "/teams/" + team + "/projects", json("name", name("prj"))).path("id").asText();
    owners.put(id, new Owner(org, team, id));
    return id;
  }

  private Who principal(String name, Kind kind, String org, String team, String project) {
    JsonNode k = operatorIssue(org, team, project, wire(kind));
    return new Who(name, k.path("key").asText(), kind, k.path("id").asText(), org, team, project);
  }

  private JsonNode operatorIssue(String org, String team, String project, String role) {
    JsonNode k = operator("POST", "/orgs/" + org + "/keys", json("name", name("key"), "role", role, "team_id", team, "project_id", project));
    rememberKey(k);
    return k;
  }

  private String operatorIssuesKey(String org, String team, String project, String role) {
    return operatorIssue(org, team, project, role).path("id").asText();
  }

  /** A fresh open reservation on the target's project; returns its id. */
  private String operatorReserves(Target t) {
    String rid = reservationId();
    operator("POST", "/projects/" + t.project() + "/reservations", json("reservation_id", rid, "amount_micro_usd", 10, "tokens", 1));
    owners.put(rid, new Owner(t.org(), t.team(), t.project()));
    return rid;
  }

  /** A call with the operator key that must succeed (setup and per-case preparation). */
  private JsonNode operator(String method, String path, String body) {
    Resp r = send(method, path, body, operatorSecret);
    if (r.status() < 200 || r.status() >= 300) {
      throw new IllegalStateException("setup call " + method + " " + path + " failed: " + r.status() + " " + r.body());
    }
    JsonNode json = parse(r.body());
    return json == null ? JSON.createObjectNode() : json;
  }

  // -- helpers ----------------------------------------------------------------------------------

  private Resp send(String method, String path, String body, String secret) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (secret != null) b.header("Authorization", "Bearer " + secret);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Resp(r.statusCode(), r.body());
    } catch (IOException e) {
      throw new IllegalStateException(method + " " + path + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode parse(String body) {
    if (body == null || body.isBlank()) return null;
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  /** A JSON object from name/value pairs; null values are left out. */
  private static String json(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      if (kv[i + 1] != null) m.put((String) kv[i], kv[i + 1]);
    }
    try {
      return JSON.writeValueAsString(m);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String budget() {
    return json("period", "month", "hard_cap_micro_usd", 1_000_000_000_000L, "soft_cap_micro_usd", 500_000_000_000L,
        "token_quota", 1_000_000_000_000L);
  }

  private String name(String what) {
    return String.format("authz-%s-%s-%06d", what, run, seq.incrementAndGet());
  }

  private String reservationId() {
    return String.format("rsv-%s-%06d", run, seq.incrementAndGet());
  }

  private static String text(JsonNode json, String member) {
    return json.hasNonNull(member) ? json.get(member).asText() : null;
  }

  private static String wire(Kind k) {
    switch (k) {
      case OPERATOR:
        return "operator";
      case ADMIN:
        return "admin";
      case MEMBER:
        return "member";
      case READ_ONLY:
        return "read-only";
      case PROVIDER:
        return "provider";
      default:
        throw new IllegalArgumentException(k.toString());
    }
  }

  private static String describe(Who p, Route r, Req req, Target t, String what, Resp resp) {
    String body = resp.body() == null ? "" : resp.body().replaceAll("\\s+", " ");
    if (body.length() > 400) body = body.substring(0, 400) + "…";
    return String.format("  %-22s %-6s %-60s [%s] %s | %d %s", p.name(), r.method(), req.path(),
        t == null ? "-" : t.label(), what, resp.status(), body);
  }
}
