package io.keld.atlas.spend.mapping;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.kit.sql.Sql;
import io.keld.ixp.auth.Principal;
import io.keld.kit.CacheSettings;
import io.keld.kit.Json;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;

/**
 * Where ingested usage belongs: an organization's ordered rules from telemetry attributes (span or
 * resource) to team, project, job category and capex/opex, edited over HTTP as one list.
 *
 * <p>How a record is placed, first answer wins:
 * <ol>
 *   <li>Project: the ingest key's project if the key is scoped to one (a rule cannot move usage out
 *       of its key's scope); else the attribute {@code keld.project_id}; else the first matching rule
 *       that sets one; else none (the record counts under "unassigned").</li>
 *   <li>Team: the project's team; else the key's team; else the first matching rule that sets one.</li>
 *   <li>Job category: the attribute {@code keld.job_category}, then a rule (both "declared"); else
 *       inferred from the operation (chat, embeddings, ...).</li>
 *   <li>Capex/opex: the attribute {@code keld.spend_class}, then a rule; else {@code opex}.</li>
 * </ol>
 * A condition {@code "service.name": "billing-*"} matches by prefix; without {@code *}, exactly.
 */
public final class MappingRules {

  /** One rule: when every attribute condition holds, set these. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Rule(String name, Map<String, String> when, Assignment set) {}

  /** What a rule sets; null fields are left to later rules or defaults. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Assignment(String teamId, String projectId, String jobCategory, String spendClass) {}

  /** The organization's list. */
  public record RuleList(List<Rule> rules, Instant updatedAt) {}

  /** The stored list is Keld's own JSON, in the API's form. */
  private static final ObjectMapper JSON = Json.WIRE;

  public static final int MAX_RULES = 500;

  /** The rules and the organization's projects (id → team) at one moment. */
  public record Snapshot(String orgId, List<Rule> rules, Map<String, String> projectTeams, Map<String, Boolean> teams, Instant loadedAt) {}

  private final Sql sql;
  private final Clock clock;
  /** The organizations' snapshots; ingest reads them per row, so a batch costs no queries. */
  private final AsyncLoadingCache<String, Snapshot> cache;

  /** @param cache bounds of the snapshots' cache: a change of rules made here shows at once, a new project within its time */
  public MappingRules(Sql sql, Clock clock, CacheSettings cache) {
    this(sql, clock, cache, Ticker.systemTicker());
  }

  MappingRules(Sql sql, Clock clock, CacheSettings cache, Ticker ticker) {
    this.sql = sql;
    this.clock = clock;
    this.cache = cache.caffeine(ticker).buildAsync((orgId, executor) -> load(orgId).toCompletableFuture());
  }

  /** The organization's rules and projects, from the cache; calls at once for one organization share one read. */
  public CompletionStage<Snapshot> snapshot(String orgId) {
    return cache.get(orgId);
  }

  private CompletionStage<Snapshot> load(String orgId) {
    return sql.run(c -> {
      List<Rule> rules = List.of();
      try (PreparedStatement ps = c.prepareStatement("SELECT rules_json FROM mapping_rules WHERE org_id = ?")) {
        ps.setString(1, orgId);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) rules = parse(rs.getString(1));
        }
      }
      Map<String, String> projects = new HashMap<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT id, team_id FROM atlas_projects WHERE org_id = ?")) {
        ps.setString(1, orgId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) projects.put(rs.getString(1), rs.getString(2));
        }
      }
      Map<String, Boolean> teams = new HashMap<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT id FROM atlas_teams WHERE org_id = ?")) {
        ps.setString(1, orgId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) teams.put(rs.getString(1), true);
        }
      }
      return new Snapshot(orgId, rules, projects, teams, clock.instant());
    });
  }

  public CompletionStage<RuleList> rules(String orgId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT rules_json, updated_at FROM mapping_rules WHERE org_id = ?")) {
        ps.setString(1, orgId);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? new RuleList(parse(rs.getString(1)), Sql.instant(rs, "updated_at")) : new RuleList(List.of(), null);
        }
      }
    });
  }

  /**
   * Replaces the organization's rules after checking them: every team and project named must be the
   * organization's, a project must sit in the rule's team if both are set, spend classes are capex
   * or opex. A problem fails the stage with {@link IllegalArgumentException} naming the rule.
   */
  public CompletionStage<RuleList> replace(String orgId, List<Rule> rules) {
    return snapshot(orgId).thenCompose(s -> {
      validate(rules, s);
      Instant now = clock.instant();
      String json;
      try {
        json = JSON.writeValueAsString(rules);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      return sql.transaction(c -> {
        try (PreparedStatement del = c.prepareStatement("DELETE FROM mapping_rules WHERE org_id = ?")) {
          del.setString(1, orgId);
          del.executeUpdate();
        }
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO mapping_rules (org_id, rules_json, updated_at) VALUES (?,?,?)")) {
          Sql.bind(ins, orgId, json, now);
          ins.executeUpdate();
        }
        cache.synchronous().invalidate(orgId);
        return new RuleList(List.copyOf(rules), now);
      });
    });
  }

  static void validate(List<Rule> rules, Snapshot s) {
    if (rules.size() > MAX_RULES) throw new IllegalArgumentException("at most " + MAX_RULES + " rules");
    for (int i = 0; i < rules.size(); i++) {
      Rule r = rules.get(i);
      if (r == null) throw new IllegalArgumentException("rules[" + i + "] is null");
      String where = "rules[" + i + "]" + (r.name() == null ? "" : " (" + r.name() + ")");
      if (r.when() == null || r.when().isEmpty()) throw new IllegalArgumentException(where + ": when needs at least one attribute condition");
      for (Map.Entry<String, String> c : r.when().entrySet()) {
        if (c.getKey() == null || c.getKey().isBlank() || c.getValue() == null) {
          throw new IllegalArgumentException(where + ": every condition needs an attribute name and a string value");
        }
      }
      if (r.set() == null) throw new IllegalArgumentException(where + ": set is required");
      Assignment set = r.set();
      if (set.projectId() != null && !s.projectTeams().containsKey(set.projectId())) {
        throw new IllegalArgumentException(where + ": project " + set.projectId() + " is not a project of this organization");
      }
      if (set.teamId() != null && !s.teams().containsKey(set.teamId())) {
        throw new IllegalArgumentException(where + ": team " + set.teamId() + " is not a team of this organization");
      }
      if (set.teamId() != null && set.projectId() != null && !set.teamId().equals(s.projectTeams().get(set.projectId()))) {
        throw new IllegalArgumentException(where + ": project " + set.projectId() + " is not in team " + set.teamId());
      }
      if (set.spendClass() != null && !set.spendClass().equals("capex") && !set.spendClass().equals("opex")) {
        throw new IllegalArgumentException(where + ": spend_class must be capex or opex");
      }
    }
  }

  private static List<Rule> parse(String json) {
    try {
      return List.of(JSON.readValue(json, Rule[].class));
    } catch (IOException e) {
      throw new IllegalStateException("stored mapping rules do not parse: " + e.getMessage(), e);
    }
  }

  /**
   * Places a record. {@code attributes} are the span's, then the resource's (span wins); content
   * attributes never get this far.
   */
  public static void place(UsageRecord r, Principal key, Map<String, String> attributes, Snapshot s) {
    // A team or project the source stated (an Atlas file's columns) stands only if it is the
    // organization's and inside the key's scope; otherwise the record is placed as if unstated.
    if (r.projectId != null && (!s.projectTeams().containsKey(r.projectId)
        || (key.projectId() != null && !key.projectId().equals(r.projectId))
        || (key.teamId() != null && !key.teamId().equals(s.projectTeams().get(r.projectId))))) {
      r.projectId = null;
    }
    if (r.projectId != null) r.teamId = s.projectTeams().get(r.projectId);
    if (r.teamId != null && (!s.teams().containsKey(r.teamId) || (key.teamId() != null && !key.teamId().equals(r.teamId)))) {
      r.teamId = null;
    }
    List<Rule> matching = new ArrayList<>();
    for (Rule rule : s.rules()) {
      if (matches(rule, attributes)) matching.add(rule);
    }
    String project = key.projectId() != null ? key.projectId() : r.projectId;
    if (project == null) {
      String declared = attributes.get("keld.project_id");
      if (declared != null && s.projectTeams().containsKey(declared)) project = declared;
    }
    if (project == null) {
      for (Rule rule : matching) {
        if (rule.set().projectId() != null) {
          project = rule.set().projectId();
          break;
        }
      }
    }
    String team = project == null ? null : s.projectTeams().get(project);
    if (team == null) team = r.teamId;
    if (team == null) team = key.teamId();
    if (team == null) {
      for (Rule rule : matching) {
        if (rule.set().teamId() != null) {
          team = rule.set().teamId();
          break;
        }
      }
    }
    // A team-scoped key keeps its usage in its team.
    if (key.teamId() != null && !key.teamId().equals(team)) {
      team = key.teamId();
      project = key.projectId();
    }
    // A project decides its team: a record never holds a project of another team.
    r.projectId = project;
    r.teamId = team;

    if (r.jobCategory == null) {
      String declared = attributes.get("keld.job_category");
      if (declared == null) {
        for (Rule rule : matching) {
          if (rule.set().jobCategory() != null) {
            declared = rule.set().jobCategory();
            break;
          }
        }
      }
      if (declared != null) {
        r.jobCategory = declared;
        r.jobCategorySource = "declared";
      } else {
        r.jobCategory = inferCategory(r.operation);
        r.jobCategorySource = "inferred";
      }
    }
    if (r.spendClass == null) {
      String declared = attributes.get("keld.spend_class");
      if (declared != null) declared = declared.toLowerCase(Locale.ROOT);
      if (!"capex".equals(declared) && !"opex".equals(declared)) {
        declared = null;
        for (Rule rule : matching) {
          if (rule.set().spendClass() != null) {
            declared = rule.set().spendClass();
            break;
          }
        }
      }
      r.spendClass = declared == null ? "opex" : declared;
    }
  }

  static boolean matches(Rule rule, Map<String, String> attributes) {
    for (Map.Entry<String, String> c : rule.when().entrySet()) {
      String v = attributes.get(c.getKey());
      if (v == null) return false;
      String want = c.getValue();
      if (want.endsWith("*") ? !v.startsWith(want.substring(0, want.length() - 1)) : !v.equals(want)) return false;
    }
    return true;
  }

  /** A category from the operation alone, for records nobody categorised. */
  public static String inferCategory(String operation) {
    if (operation == null) return "unclassified";
    String o = operation.toLowerCase(Locale.ROOT);
    Map<String, String> known = new LinkedHashMap<>();
    known.put("embed", "embeddings");
    known.put("chat", "chat");
    known.put("completion", "completion");
    known.put("generate_content", "chat");
    known.put("tool", "tool-call");
    known.put("agent", "agent");
    known.put("image", "image");
    known.put("audio", "audio");
    known.put("moderation", "moderation");
    known.put("batch", "batch");
    for (Map.Entry<String, String> e : known.entrySet()) {
      if (o.contains(e.getKey())) return e.getValue();
    }
    return o;
  }
}
