package io.keld.atlas.spend;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.ScopeView;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.atlas.spend.imports.UsageImports;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.atlas.spend.reports.Recommendations;
import io.keld.atlas.spend.reports.SpendReports;
import io.keld.atlas.spend.reports.SpendReports.Dimension;
import io.keld.atlas.spend.reports.SpendReports.Granularity;
import io.keld.kit.JsonBodies;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.ProblemType;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import io.keld.ixp.Texts;
import io.keld.ixp.problem.Problem;
import io.keld.kit.ProblemResponses;
import io.keld.kit.sql.Sql;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatcher0;
import org.apache.pekko.http.javadsl.server.PathMatchers;

/**
 * The spend map over HTTP, under {@code /atlas/v1}: spend reports (JSON or CSV) with budget
 * utilization, the FOCUS export, recommendations, usage file imports, the mapping rules and the
 * price book. Every key of an enterprise organization may read what its scope covers (a team key
 * sees its team, a project key its project); imports need an admin or member key, mapping rules an
 * organization-wide admin, price book edits the operator.
 */
public final class SpendRoutes {

  /** What a report may span: long enough for a year-over-year look, short enough to stay fast. */
  private static final Duration MAX_RANGE = Duration.ofDays(400);
  private static final Duration DEFAULT_RANGE = Duration.ofDays(30);
  private static final long MAX_IMPORT_BYTES = 256L * 1024 * 1024;
  public static final List<String> IMPORT_FORMATS = List.of("openai_usage", "anthropic_usage", "litellm_spend_logs", "atlas_csv", "atlas_jsonl");

  /** Renders the FOCUS export, where one is available (see {@link io.keld.atlas.spend.reports}). */
  public interface Focus {
    CompletionStage<String> csv(String orgId, Instant from, Instant to);
  }

  private final Authenticator keys;
  private final SpendIngest ingest;
  private final SpendReports reports;
  private final Recommendations recommendations;
  private final Focus focus;
  private final BudgetClient budgets;
  private final AuditLog audit;
  private final Clock clock;
  /** Where import files are parsed: a large one takes seconds of CPU, which must not hold an HTTP thread. */
  private final Executor blocking;

  public SpendRoutes(Authenticator keys, SpendIngest ingest, SpendReports reports, Recommendations recommendations, Focus focus,
      BudgetClient budgets, AuditLog audit, Clock clock, Executor blocking) {
    this.blocking = blocking;
    this.keys = keys;
    this.ingest = ingest;
    this.reports = reports;
    this.recommendations = recommendations;
    this.focus = focus;
    this.budgets = budgets;
    this.audit = audit;
    this.clock = clock;
  }

  public Route route() {
    return pathPrefix("atlas", () -> pathPrefix("v1", () -> KeyAuthentication.authenticated(keys, p -> concat(
        path(segment("reports").slash("spend"), () -> get(() -> parameterMap(q -> spendReport(p, q)))),
        path(segment("reports").slash("focus"), () -> get(() -> parameterMap(q -> focusExport(p, q)))),
        path("recommendations", () -> get(() -> parameterMap(q -> recommend(p, q)))),
        // A large file takes minutes to send and read, longer than the server's request timeout.
        path(segment("usage").slash("imports"), () -> post(() -> withRequestTimeout(Duration.ofMinutes(10),
            () -> parameterMap(q -> importUsage(p, q))))),
        path("mapping-rules", () -> concat(
            get(() -> parameterMap(q -> {
              // Rules name every team and project of the organization: organization-wide keys only.
              if (p.teamId() != null || p.projectId() != null) {
                throw ProblemException.of(ProblemType.FORBIDDEN, "mapping rules are read with an organization-wide key");
              }
              return onSuccess(ingest.rules().rules(org(p, q)), r -> complete(ok(rulesView(r))));
            })),
            put(() -> parameterMap(q -> replaceRules(p, q))))),
        path("price-book", () -> concat(
            get(() -> complete(ok(Map.of("entries", ingest.prices().entries().stream().map(SpendRoutes::priceView).toList())))),
            post(() -> addPrice(p))))))));
  }

  private static PathMatcher0 segment(String s) {
    return PathMatchers.segment(s);
  }

  // -- reports -------------------------------------------------------------------------------------

  private Route spendReport(Principal p, Map<String, String> q) {
    String orgId = org(p, q);
    Instant to = time(q, "to", clock.instant());
    Instant from = time(q, "from", to.minus(DEFAULT_RANGE));
    checkRange(from, to);
    Granularity granularity = Granularity.of(q.getOrDefault("granularity", "day"));
    if (granularity == null) throw ProblemException.invalid("granularity", "granularity must be hour, day, week, month or total");
    if (granularity == Granularity.HOUR && Duration.between(from, to).compareTo(Duration.ofDays(31)) > 0) {
      throw ProblemException.invalid("granularity", "hourly reports span at most 31 days; use day or a shorter range");
    }
    List<String> groupBy = new ArrayList<>();
    for (String g : csvParam(q, "group_by")) {
      if (!g.startsWith("tag:") && Dimension.of(g) == null) {
        throw ProblemException.invalid("group_by", "group_by takes team, project, model, provider, job_category, spend_class "
            + "or tag:<name>; got " + Texts.clip(g));
      }
      if (g.startsWith("tag:") && g.length() == 4) throw ProblemException.invalid("group_by", "tag: needs a tag name");
      if (!groupBy.contains(g)) groupBy.add(g);
    }
    Map<Dimension, List<String>> filters = new LinkedHashMap<>();
    for (Dimension d : Dimension.values()) {
      List<String> values = csvParam(q, d.wire);
      if (!values.isEmpty()) filters.put(d, values);
    }
    Map<String, String> tagFilters = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : q.entrySet()) {
      if (e.getKey().startsWith("tag.") && e.getKey().length() > 4) tagFilters.put(e.getKey().substring(4), e.getValue());
    }
    // A scoped key sees its own scope only, whatever it asks for.
    if (p.teamId() != null) filters.put(Dimension.TEAM, List.of(p.teamId()));
    if (p.projectId() != null) filters.put(Dimension.PROJECT, List.of(p.projectId()));
    boolean csv = "csv".equalsIgnoreCase(q.getOrDefault("format", "json"));
    if (!csv && !"json".equalsIgnoreCase(q.getOrDefault("format", "json"))) throw ProblemException.invalid("format", "format is json or csv");
    SpendReports.Query query = new SpendReports.Query(orgId, from, to, granularity, groupBy, filters, tagFilters);
    return onSuccess(reports.run(query), report -> {
      if (csv) return complete(csvResponse(ReportViews.csv(report), "spend-report.csv"));
      return onSuccess(budgetLines(p, report, groupBy), lines -> complete(ok(ReportViews.json(report, lines))));
    });
  }

  /**
   * Budget utilization beside spend, for the teams or projects a report groups by: each scope's
   * budget in its current period, what Keld jobs committed against it, and what the ledger holds for
   * the same period from every source.
   */
  private CompletionStage<List<Map<String, Object>>> budgetLines(Principal p, SpendReports.Report report, List<String> groupBy) {
    // A project key sees its project's budget, not its team's (which covers other projects).
    Dimension d = groupBy.contains("project") ? Dimension.PROJECT
        : groupBy.contains("team") && p.projectId() == null ? Dimension.TEAM : null;
    if (d == null) return CompletableFuture.completedFuture(List.of());
    Map<String, String> scopes = new LinkedHashMap<>();
    for (SpendReports.Row r : report.rows()) {
      String id = r.group().get(d.wire);
      if (id == null || id.isEmpty()) continue;
      String team = d == Dimension.TEAM ? id : report.projectTeams().get(id);
      if (team != null) scopes.put(id, team);
    }
    List<CompletableFuture<Map<String, Object>>> lines = new ArrayList<>();
    for (Map.Entry<String, String> scope : scopes.entrySet()) {
      if (lines.size() >= 100) break;
      CompletionStage<Map<String, Object>> line = budgets.scope(scope.getValue(), scope.getKey()).thenCompose(reply -> {
        if (!(reply instanceof TeamBudgets.Ok okReply) || okReply.scopes().isEmpty()) return CompletableFuture.completedFuture(null);
        ScopeView v = okReply.scopes().get(0);
        return reports.spendBy(report.query().orgId(), d, Instant.ofEpochMilli(v.periodStart()), Instant.ofEpochMilli(v.periodEnd()))
            .thenApply(spend -> ReportViews.budgetLine(d, scope.getKey(), v, spend.getOrDefault(scope.getKey(), 0L)));
      });
      lines.add(line.toCompletableFuture().exceptionally(e -> null));
    }
    return CompletableFuture.allOf(lines.toArray(CompletableFuture[]::new))
        .thenApply(x -> lines.stream().map(CompletableFuture::join).filter(Objects::nonNull).toList());
  }

  private Route focusExport(Principal p, Map<String, String> q) {
    String orgId = org(p, q);
    if (p.teamId() != null || p.projectId() != null) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "the FOCUS export covers the whole organization; use an organization-wide key");
    }
    Instant to = time(q, "to", clock.instant());
    Instant from = time(q, "from", to.minus(DEFAULT_RANGE));
    checkRange(from, to);
    if (focus == null) throw ProblemException.of(ProblemType.UNAVAILABLE, "the FOCUS export is not available on this node");
    CompletionStage<String> csv = focus.csv(orgId, from, to).handle((text, failure) -> {
      if (failure == null) return text;
      Throwable cause = ProblemResponses.cause(failure);
      if (cause instanceof IllegalArgumentException) throw ProblemException.notFound("organization " + orgId);
      throw cause instanceof RuntimeException re ? re : new CompletionException(cause);
    });
    return onSuccess(csv, text -> complete(csvResponse(text, "focus-1.2.csv")));
  }

  private Route recommend(Principal p, Map<String, String> q) {
    String orgId = org(p, q);
    Instant to = time(q, "to", clock.instant());
    Instant from = time(q, "from", to.minus(DEFAULT_RANGE));
    checkRange(from, to);
    int limit = intParam(q, "limit", 20, 1, 200);
    return onSuccess(recommendations.find(orgId, p.teamId(), p.projectId(), from, to, limit),
        list -> complete(ok(Map.of("from", from, "to", to, "recommendations", list.stream().map(ReportViews::recommendation).toList()))));
  }

  // -- ingest --------------------------------------------------------------------------------------

  private Route importUsage(Principal p, Map<String, String> q) {
    String orgId = org(p, q);
    if (!(p.role() == Role.ADMIN || p.role() == Role.MEMBER || p.isOperator())) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "importing usage needs an admin or member key");
    }
    String format = q.get("format");
    if (format == null) throw ProblemException.invalid("format", "format is required: " + String.join(", ", IMPORT_FORMATS));
    if (!IMPORT_FORMATS.contains(format)) {
      throw ProblemException.invalid("format", "format must be one of " + String.join(", ", IMPORT_FORMATS));
    }
    Principal scope = p.isOperator() ? new Principal(p.keyId(), orgId, Principal.OrgKind.ENTERPRISE, Role.ADMIN, null, null) : p;
    return JsonBodies.refuseOversized(MAX_IMPORT_BYTES, () -> ProblemResponses.response(Problem.of(
        ProblemType.PAYLOAD_TOO_LARGE, "an import is at most " + MAX_IMPORT_BYTES + " bytes; split the file")),
        () -> extractMaterializer(mat -> extractRequestEntity(entity -> onSuccess(
            entity.toStrict(120_000, MAX_IMPORT_BYTES, mat)
                .thenApplyAsync(strict -> parse(format, strict.getData().toArray(), orgId), blocking), parsed -> {
              return onSuccess(ingest.ingest(scope, parsed.records()), appended -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("format", format);
                body.put("accepted", appended.accepted());
                body.put("duplicates", appended.duplicates());
                body.put("rejected", parsed.errors().size());
                body.put("errors", parsed.errors().stream().limit(100).toList());
                return onSuccess(audit.record(orgId, p.keyId(), "usage.import", format, "ok", 200,
                    "accepted " + appended.accepted() + ", duplicates " + appended.duplicates() + ", rejected " + parsed.errors().size()),
                    x -> complete(ok(body)));
              });
            }))));
  }

  private static UsageImports.Parsed parse(String format, byte[] body, String orgId) {
    try {
      return UsageImports.parse(format, body, orgId);
    } catch (IllegalArgumentException e) {
      throw ProblemException.of(ProblemType.BAD_REQUEST, e.getMessage());
    }
  }

  private Route replaceRules(Principal p, Map<String, String> q) {
    String orgId = org(p, q);
    if (!(p.isOperator() || (p.role() == Role.ADMIN && p.teamId() == null && p.projectId() == null))) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "mapping rules are edited with an organization-wide admin key");
    }
    return JsonBodies.body(RulesBody.class, body -> {
      if (body.rules() == null) throw ProblemException.invalid("rules", "rules is required (an empty list clears them)");
      CompletionStage<MappingRules.RuleList> saved = ingest.rules().replace(orgId, body.rules()).handle((r, e) -> {
        if (e == null) return r;
        Throwable cause = ProblemResponses.cause(e);
        if (cause instanceof IllegalArgumentException) throw ProblemException.invalid("rules", cause.getMessage());
        throw cause instanceof RuntimeException re ? re : new IllegalStateException(cause);
      });
      return onSuccess(saved.thenCompose(r -> audit.record(orgId, p.keyId(), "mapping_rules.replace", orgId, "ok", 200,
          r.rules().size() + " rules").thenApply(x -> r)), r -> complete(ok(rulesView(r))));
    });
  }

  /** {@code PUT /atlas/v1/mapping-rules}'s body. */
  public record RulesBody(List<MappingRules.Rule> rules) {}

  /** {@code POST /atlas/v1/price-book}'s body. */
  public record PriceBody(String provider, String model, String tokenType, BigDecimal usdPerMtok, String effectiveFrom) {}

  private Route addPrice(Principal p) {
    if (!p.isOperator()) throw ProblemException.of(ProblemType.FORBIDDEN, "the price book is edited by the operator");
    return JsonBodies.body(PriceBody.class, b -> {
      if (b.usdPerMtok() == null) throw ProblemException.invalid("usd_per_mtok", "usd_per_mtok is required");
      Instant effective;
      try {
        effective = b.effectiveFrom() == null ? clock.instant() : Instant.parse(b.effectiveFrom());
      } catch (DateTimeParseException e) {
        throw ProblemException.invalid("effective_from", "effective_from is an RFC 3339 time, e.g. 2026-01-01T00:00:00Z");
      }
      PriceBook.Entry entry;
      try {
        entry = PriceBook.entry(b.provider(), b.model(), b.tokenType(), b.usdPerMtok(), effective, "api");
      } catch (IllegalArgumentException | ArithmeticException e) {
        throw ProblemException.of(ProblemType.INVALID_FIELD, e.getMessage());
      }
      if (ingest.prices().current(entry.provider(), entry.model(), entry.tokenType(), effective) != null
          && ingest.prices().current(entry.provider(), entry.model(), entry.tokenType(), effective).effectiveFrom().equals(effective)) {
        throw ProblemException.of(ProblemType.CONFLICT, "a price for " + entry.provider() + "/" + entry.model() + " " + entry.tokenType()
            + " is already in force from " + effective + "; add one with a later effective_from");
      }
      CompletionStage<PriceBook.Entry> added = ingest.prices().add(entry).handle((e, failure) -> {
        if (failure == null) return e;
        if (Sql.isUniqueViolation(failure)) {
          throw ProblemException.of(ProblemType.CONFLICT, "a price for " + entry.provider() + "/" + entry.model() + " " + entry.tokenType()
              + " is already in force from " + entry.effectiveFrom() + "; add one with a later effective_from");
        }
        throw failure instanceof RuntimeException re ? re : new CompletionException(failure);
      });
      return onSuccess(added.thenCompose(e -> audit.record(p.orgId(), p.keyId(), "price_book.add",
          e.provider() + "/" + e.model() + "/" + e.tokenType(), "ok", 201, null).thenApply(x -> e)),
          e -> complete(JsonBodies.response(StatusCodes.CREATED, priceView(e))));
    });
  }

  // -- helpers -------------------------------------------------------------------------------------

  /** The organization a call is about: the key's, or for the operator the {@code org_id} parameter. */
  private static String org(Principal p, Map<String, String> q) {
    if (p.isOperator()) {
      String org = q.get("org_id");
      if (org == null) throw ProblemException.invalid("org_id", "the operator names the organization: org_id=");
      return org;
    }
    if (p.orgKind() != Principal.OrgKind.ENTERPRISE) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "the spend map belongs to enterprise organizations");
    }
    return p.orgId();
  }

  private static Instant time(Map<String, String> q, String name, Instant otherwise) {
    String v = q.get(name);
    if (v == null || v.isBlank()) return otherwise;
    try {
      Instant t = Instant.parse(v);
      if (t.isBefore(Instant.parse("2000-01-01T00:00:00Z")) || t.isAfter(Instant.parse("2200-01-01T00:00:00Z"))) {
        throw ProblemException.invalid(name, name + " must be between 2000 and 2200");
      }
      return t;
    } catch (DateTimeParseException e) {
      throw ProblemException.invalid(name, name + " is an RFC 3339 UTC time, e.g. 2026-11-01T00:00:00Z; got " + Texts.clip(v));
    }
  }

  private static void checkRange(Instant from, Instant to) {
    if (!from.isBefore(to)) throw ProblemException.invalid("from", "from must be before to");
    if (Duration.between(from, to).compareTo(MAX_RANGE) > 0) throw ProblemException.invalid("from", "a report spans at most 400 days");
  }

  private static List<String> csvParam(Map<String, String> q, String name) {
    String v = q.get(name);
    if (v == null || v.isBlank()) return List.of();
    List<String> out = new ArrayList<>();
    for (String s : v.split(",")) {
      String t = s.strip();
      if (!t.isEmpty()) out.add(t.equals("unassigned") && !name.equals("group_by") ? "" : t);
    }
    return out;
  }

  private static int intParam(Map<String, String> q, String name, int otherwise, int min, int max) {
    String v = q.get(name);
    if (v == null) return otherwise;
    try {
      int n = Integer.parseInt(v.strip());
      if (n < min || n > max) throw new NumberFormatException();
      return n;
    } catch (NumberFormatException e) {
      throw ProblemException.invalid(name, name + " must be a whole number from " + min + " to " + max);
    }
  }

  private static Map<String, Object> rulesView(MappingRules.RuleList r) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("rules", r.rules());
    out.put("updated_at", r.updatedAt());
    return out;
  }

  private static Map<String, Object> priceView(PriceBook.Entry e) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("provider", e.provider());
    out.put("model", e.model());
    out.put("token_type", e.tokenType());
    // A decimal string without trailing zeros ("0.15", "2"), as atlas.openapi.yaml's PriceEntry says.
    out.put("usd_per_mtok", BigDecimal.valueOf(e.microUsdPerMtok(), 6).stripTrailingZeros().toPlainString());
    out.put("effective_from", e.effectiveFrom());
    out.put("origin", e.origin());
    return out;
  }

  private static HttpResponse ok(Object body) {
    return JsonBodies.response(StatusCodes.OK, body);
  }

  private static HttpResponse csvResponse(String csv, String filename) {
    return HttpResponse.create().withStatus(StatusCodes.OK)
        .withEntity(HttpEntities.create(ContentTypes.create(MediaTypes.TEXT_CSV, HttpCharsets.UTF_8), csv))
        .addHeader(RawHeader.create("Content-Disposition", "attachment; filename=\"" + filename + "\""));
  }
}
