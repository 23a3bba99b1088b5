package io.keld.atlas.tenancy;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import io.keld.kit.CacheSettings;
import io.keld.kit.sql.Sql;
import io.keld.ixp.Ids;
import io.keld.ixp.auth.Principal.OrgKind;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.sql.Connection;
import java.util.concurrent.CompletableFuture;

/**
 * Organizations, teams and projects, in SQL tables (see {@code V2__atlas_governance.sql}): they are
 * reference data, read on every request and changed rarely, so tables with constraints fit better
 * than entities. Names are unique within their parent; a duplicate is a {@link DuplicateNameException}.
 */
public final class TenancyStore {

  public static final String OPERATOR_ORG_ID = "org_operator";

  private final Sql sql;
  private final Clock clock;
  /**
   * Projects by id, once found: a project never changes team, organization or name, so its time in
   * the cache bounds only memory. An id not found is not remembered (a new project shows at once).
   */
  private final AsyncLoadingCache<String, Project> projects;

  /** For a one-shot tool (the CLI): a small cache. */
  public TenancyStore(Sql sql, Clock clock) {
    this(sql, clock, new CacheSettings(1_000, Duration.ofMinutes(1)));
  }

  public TenancyStore(Sql sql, Clock clock, CacheSettings projectCache) {
    this.sql = sql;
    this.clock = clock;
    this.projects = projectCache.caffeine().buildAsync((id, executor) -> read(id).toCompletableFuture());
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }

  public CompletionStage<Organization> createOrganization(String name, OrgKind kind) {
    Organization org = new Organization(Ids.next("org"), name, kind, now());
    return sql.run(c -> {
      insertOrganization(c, org);
      return org;
    });
  }

  /** The operator organization, created if missing (node start-up, on the caller's thread). */
  public Organization ensureOperatorOrganization() {
    return sql.now(c -> {
      Optional<Organization> existing = organization(c, OPERATOR_ORG_ID);
      if (existing.isPresent()) return existing.get();
      Organization org = new Organization(OPERATOR_ORG_ID, "Keld operator", OrgKind.OPERATOR, now());
      try {
        insertOrganization(c, org);
      } catch (SQLException e) {
        if (!Sql.isUniqueViolation(e)) throw e; // another node created it first
      }
      return organization(c, OPERATOR_ORG_ID).orElseThrow();
    });
  }

  private static void insertOrganization(Connection c, Organization org) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO atlas_organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)")) {
      Sql.bind(ps, org.id(), org.name(), org.kind().wire(), org.createdAt());
      ps.executeUpdate();
    }
  }

  public CompletionStage<Optional<Organization>> organization(String id) {
    return sql.run(c -> organization(c, id));
  }

  private static Optional<Organization> organization(Connection c, String id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT id, name, kind, created_at FROM atlas_organizations WHERE id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(org(rs)) : Optional.empty();
      }
    }
  }

  /** Organizations ordered by id, after {@code afterId} (paging), at most {@code limit}. */
  public CompletionStage<List<Organization>> organizations(String afterId, int limit) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT id, name, kind, created_at FROM atlas_organizations WHERE id > ? ORDER BY id LIMIT ?")) {
        Sql.bind(ps, afterId == null ? "" : afterId, limit);
        List<Organization> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(org(rs));
        }
        return out;
      }
    });
  }

  public CompletionStage<Team> createTeam(String orgId, String name) {
    Team team = new Team(Ids.next("team"), orgId, name, now());
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO atlas_teams (id, org_id, name, created_at) VALUES (?, ?, ?, ?)")) {
        Sql.bind(ps, team.id(), team.orgId(), team.name(), team.createdAt());
        ps.executeUpdate();
      } catch (SQLException e) {
        if (Sql.isUniqueViolation(e)) throw new DuplicateNameException("a team named '" + name + "' already exists in " + orgId);
        throw e;
      }
      return team;
    });
  }

  public CompletionStage<Optional<Team>> team(String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT id, org_id, name, created_at FROM atlas_teams WHERE id = ?")) {
        ps.setString(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(team(rs)) : Optional.empty();
        }
      }
    });
  }

  public CompletionStage<List<Team>> teams(String orgId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT id, org_id, name, created_at FROM atlas_teams WHERE org_id = ? ORDER BY name")) {
        ps.setString(1, orgId);
        List<Team> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(team(rs));
        }
        return out;
      }
    });
  }

  public CompletionStage<Project> createProject(Team team, String name) {
    Project project = new Project(Ids.next("prj"), team.orgId(), team.id(), name, now());
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO atlas_projects (id, org_id, team_id, name, created_at) VALUES (?, ?, ?, ?, ?)")) {
        Sql.bind(ps, project.id(), project.orgId(), project.teamId(), project.name(), project.createdAt());
        ps.executeUpdate();
      } catch (SQLException e) {
        if (Sql.isUniqueViolation(e)) throw new DuplicateNameException("a project named '" + name + "' already exists in " + team.id());
        throw e;
      }
      projects.put(project.id(), CompletableFuture.completedFuture(project));
      return project;
    });
  }

  /** The project, through the project cache; requests for one project at once share one read. */
  public CompletionStage<Optional<Project>> project(String id) {
    return projects.get(id).thenApply(Optional::ofNullable);
  }

  /** The project as stored, or null. */
  private CompletionStage<Project> read(String id) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT id, org_id, team_id, name, created_at FROM atlas_projects WHERE id = ?")) {
        ps.setString(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? project(rs) : null;
        }
      }
    });
  }

  public CompletionStage<List<Project>> projects(String teamId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT id, org_id, team_id, name, created_at FROM atlas_projects WHERE team_id = ? ORDER BY name")) {
        ps.setString(1, teamId);
        List<Project> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.add(project(rs));
        }
        return out;
      }
    });
  }

  private static Organization org(ResultSet rs) throws SQLException {
    return new Organization(rs.getString("id"), rs.getString("name"), OrgKind.fromWire(rs.getString("kind")), Sql.instant(rs, "created_at"));
  }

  private static Team team(ResultSet rs) throws SQLException {
    return new Team(rs.getString("id"), rs.getString("org_id"), rs.getString("name"), Sql.instant(rs, "created_at"));
  }

  private static Project project(ResultSet rs) throws SQLException {
    return new Project(rs.getString("id"), rs.getString("org_id"), rs.getString("team_id"), rs.getString("name"),
        Sql.instant(rs, "created_at"));
  }

  /** A name already taken within its parent. */
  public static final class DuplicateNameException extends RuntimeException {
    public DuplicateNameException(String message) {
      super(message);
    }
  }
}
