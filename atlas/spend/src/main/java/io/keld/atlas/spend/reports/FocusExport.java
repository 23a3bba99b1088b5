package io.keld.atlas.spend.reports;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * An organization's spend ledger as a FinOps FOCUS 1.2 cost and usage dataset: RFC 4180 CSV, a header
 * and one row per UTC day of {@code period_start}, team, project, provider, model, job category,
 * capex/opex class and biller (see below), summed from {@code usage_records} with {@code period_start}
 * in {@code [from, to)}. Costs are exact: micro-USD sums written as decimal USD with six places, so the
 * rows add up to the ledger's total to the micro-dollar. Unassigned usage (no team, no project) is
 * exported too, with no sub account, so nothing is lost between the ledger and the export.
 *
 * <h2>Where the column list comes from</h2>
 *
 * <p>Presence levels are the FOCUS 1.2 Requirements Model, as the FinOps Foundation validator ships it:
 * {@code finopsfoundation/focus_validator}, {@code focus_validator/rules/model-1.2.0.1.json}
 * ({@code "FOCUSVersion": "1.2"}), rules {@code CostAndUsage-D-003} to {@code D-068} (one "Presence"
 * rule per column) and the column list of {@code CostAndUsage-D-002-M}. Value rules are the per-column
 * rules of the specification repository, {@code FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec},
 * {@code specification/requirements_model/model_rules/columns/*.json}, taking only rules marked
 * {@code "ModelVersionIntroduced": "1.2"}; formats are its attributes ({@code DateTimeFormat-A-003-M}:
 * {@code YYYY-MM-DDTHH:mm:ssZ} in UTC; NumericFormat; CurrencyFormat: ISO 4217; NullHandling: null,
 * never an empty string or a stand-in value; UnitFormat, {@code specification/attributes/unit_format.md}:
 * {@code <unit-quantity> <plural-units>} with a positive integer quantity, e.g. "1000 Tokens").
 *
 * <p><b>Mandatory</b> (MUST be present, no condition) — all exported: BilledCost, BillingAccountId,
 * BillingAccountName, BillingCurrency, BillingPeriodEnd, BillingPeriodStart, ChargeCategory
 * (Usage|Purchase|Tax|Credit|Adjustment), ChargeClass (null, or "Correction" for a correction to an
 * invoiced period), ChargeDescription, ChargePeriodEnd, ChargePeriodStart, ContractedCost, EffectiveCost,
 * InvoiceIssuerName, ListCost, PricingQuantity, PricingUnit, ProviderName, PublisherName, ServiceCategory
 * (one of 19 values, among them "AI and Machine Learning"), ServiceName.
 *
 * <p><b>Conditional</b> (MUST be present when the data has the feature) — exported because the ledger
 * has the feature: ConsumedQuantity and ConsumedUnit (usage is measured: tokens); SubAccountId,
 * SubAccountName and SubAccountType (projects and teams are sub accounts, two types, so the type column
 * is required); Tags (teams, projects, job categories and spend classes are tags); PricingCategory
 * (Standard|Committed|Dynamic|Other: Keld marketplace fills are "Dynamic", usage priced at a provider's
 * list or contract rate "Standard", so the ledger has more than one); SkuId (the model).
 * Not exported, because the ledger has no such thing: AvailabilityZone, RegionId, RegionName,
 * ResourceId, ResourceName, ResourceType (no provisioned resources), CapacityReservationId/Status,
 * CommitmentDiscountCategory/Id/Name/Quantity/Status/Type/Unit, BillingAccountType (one kind of billing
 * account), PricingCurrency and the PricingCurrency* columns (priced and billed in USD).
 * Not exported although a price book exists: ListUnitPrice, ContractedUnitPrice, SkuPriceId, SkuMeter,
 * SkuPriceDetails. A row sums input, cached-input and output tokens of a day, each type with its own
 * price, possibly several effective-dated prices and per-leg marketplace prices, so no single SKU price
 * describes it; 1.2 requires {@code ListUnitPrice x PricingQuantity = ListCost} and a non-null
 * SkuPriceId on every usage row once the column is present, which a blended price cannot honour.
 *
 * <p><b>Recommended</b>: ChargeFrequency ("Usage-Based") and ServiceSubcategory ("Generative AI") are
 * exported; InvoiceId is not (the ledger records usage, not invoices: it would be null on every row).
 *
 * <p><b>Custom</b> ({@code x_} prefix): x_JobCategory, x_SpendClass (capex|opex), x_RequestCount,
 * x_InputTokens, x_CachedInputTokens (part of the input), x_OutputTokens.
 *
 * <h2>Decisions</h2>
 *
 * <ul>
 *   <li>ConsumedQuantity is input + output tokens (cached input tokens are part of the input), unit
 *       "Tokens". PricingQuantity is the same count in millions, unit "1000000 Tokens": providers price
 *       per million tokens, and UnitFormat wants the unit quantity as an integer, so not "1M Tokens".
 *   <li>BilledCost = EffectiveCost = ContractedCost = the ledger's cost (no commitments to amortize, the
 *       cost is the negotiated or paid one); ListCost = the list cost, or the cost where the price book
 *       had no list price for the model.
 *   <li>InvoiceIssuerName is "Keld" for usage bought on the Keld marketplace (source {@code keld}): Keld
 *       bills it. Other usage is billed by the provider directly. The biller is part of the row key, so a
 *       provider reached both ways gives two rows.
 *   <li>BillingAccount is the organization. SubAccount is the project, else the team (usage with a team
 *       but no project), else null. Tags always carry "team" and "project" (the name, or "unassigned"),
 *       plus "job_category" and "spend_class" when known. They are the organization's own allocation
 *       keys, one user-defined tag scheme, so they carry no prefix (Tags-C-016).
 *   <li>ChargePeriod is the whole UTC day, BillingPeriod its calendar month, even when {@code from} or
 *       {@code to} cut a day: the row then holds only the records inside the range.
 * </ul>
 */
public final class FocusExport {

  /** The header, in this order: FOCUS columns alphabetically, then the custom ones. */
  public static final List<String> COLUMNS = List.of(
      "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
      "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
      "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingCategory",
      "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName", "ServiceSubcategory",
      "SkuId", "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
      "x_JobCategory", "x_SpendClass", "x_RequestCount", "x_InputTokens", "x_CachedInputTokens", "x_OutputTokens");

  /** Who bills marketplace usage, and the service it sells. */
  static final String KELD = "Keld";
  static final String KELD_SERVICE = "Keld Marketplace";
  /** The value of a tag whose dimension the record has not been placed in. */
  static final String UNASSIGNED = "unassigned";

  private static final ObjectMapper JSON = Json.PLAIN;
  private static final DateTimeFormatter DATE_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
  private static final long SECONDS_PER_DAY = 86_400;
  /** Micro-USD and tokens-in-millions both have six decimal places. */
  private static final int MICRO = 6;

  /** Display and product names of the providers {@code Providers.normalize} knows; others pass through. */
  private record ProviderLabel(String name, String service) {}

  private static final Map<String, ProviderLabel> PROVIDERS = Map.of(
      "openai", new ProviderLabel("OpenAI", "OpenAI API"),
      "anthropic", new ProviderLabel("Anthropic", "Claude API"),
      "azure.openai", new ProviderLabel("Microsoft", "Azure OpenAI"),
      "azure.ai.inference", new ProviderLabel("Microsoft", "Azure AI Inference"),
      "aws.bedrock", new ProviderLabel("AWS", "Amazon Bedrock"),
      "gcp.vertex_ai", new ProviderLabel("Google Cloud", "Vertex AI"),
      "gcp.gemini", new ProviderLabel("Google", "Gemini API"),
      "mistral_ai", new ProviderLabel("Mistral AI", "Mistral AI API"),
      "cohere", new ProviderLabel("Cohere", "Cohere API"),
      "xai", new ProviderLabel("xAI", "xAI API"));

  private final Sql sql;

  public FocusExport(Sql sql) {
    this.sql = sql;
  }

  /**
   * The dataset for one organization's records with {@code period_start} in {@code [from, to)}: CSV with
   * CRLF line ends, a header, then rows ordered by day, team, project, provider and model. Fails with
   * {@link IllegalArgumentException} for an unknown organization or an empty range.
   */
  public CompletionStage<String> csv(String orgId, Instant from, Instant to) {
    Objects.requireNonNull(orgId, "orgId");
    if (from == null || to == null || !from.isBefore(to)) {
      return CompletableFuture.failedFuture(new IllegalArgumentException("the range needs from < to"));
    }
    return sql.run(c -> {
      Names names = names(c, orgId);
      List<Group> groups = groups(c, orgId, from, to);
      StringBuilder out = new StringBuilder();
      // A null is an empty field: CSV has no other way to say null.
      try (CSVPrinter csv = new CSVPrinter(out, CSVFormat.RFC4180)) {
        csv.printRecord(COLUMNS);
        for (Group g : sorted(groups, names)) csv.printRecord(row(g, orgId, names));
      } catch (IOException e) {
        throw new UncheckedIOException(e); // a StringBuilder does not fail
      }
      return out.toString();
    });
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** The organization's name and its teams' and projects' names, for accounts, tags and descriptions. */
  private record Names(String orgName, Map<String, String> teams, Map<String, ProjectName> projects) {
    String team(String id) {
      return id == null ? null : teams.getOrDefault(id, id);
    }
  }

  private record ProjectName(String name, String teamId) {}

  private static Names names(Connection c, String orgId) throws SQLException {
    String orgName;
    try (PreparedStatement ps = c.prepareStatement("SELECT name FROM atlas_organizations WHERE id = ?")) {
      ps.setString(1, orgId);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new IllegalArgumentException("no organization " + orgId);
        orgName = rs.getString(1);
      }
    }
    Map<String, String> teams = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id, name FROM atlas_teams WHERE org_id = ?")) {
      ps.setString(1, orgId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) teams.put(rs.getString("id"), rs.getString("name"));
      }
    }
    Map<String, ProjectName> projects = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id, name, team_id FROM atlas_projects WHERE org_id = ?")) {
      ps.setString(1, orgId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) projects.put(rs.getString("id"), new ProjectName(rs.getString("name"), rs.getString("team_id")));
      }
    }
    return new Names(orgName, teams, projects);
  }

  /** One output row before formatting: the key and its sums (BigDecimal: SUM of BIGINT is NUMERIC on PostgreSQL). */
  private record Group(long epochDay, String teamId, String projectId, String provider, String model, String jobCategory,
      String spendClass, boolean viaKeld, BigDecimal requests, BigDecimal inputTokens, BigDecimal cachedInputTokens,
      BigDecimal outputTokens, BigDecimal costMicroUsd, BigDecimal listCostMicroUsd) {}

  /*
   * The day is computed as whole days since the epoch from EXTRACT(EPOCH ...), which H2 and PostgreSQL
   * both give in UTC whatever the session time zone, so the same statement runs on both stores. The
   * model is the one that served, else the one asked for (UsageRecord.model()), as the rollup has it.
   */
  private static final String GROUPS = "SELECT epoch_day, team_id, project_id, provider, model_name, job_category, spend_class, via_keld, "
      + "SUM(request_count) AS requests, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens, "
      + "SUM(output_tokens) AS output_tokens, SUM(cost_micro_usd) AS cost, SUM(list_cost) AS list_cost "
      + "FROM (SELECT CAST(FLOOR(EXTRACT(EPOCH FROM period_start) / " + SECONDS_PER_DAY + ") AS BIGINT) AS epoch_day, "
      + "team_id, project_id, provider, "
      + "CASE WHEN model_served IS NOT NULL AND TRIM(model_served) <> '' THEN model_served ELSE model_requested END AS model_name, "
      + "job_category, spend_class, CASE WHEN source = 'keld' THEN 1 ELSE 0 END AS via_keld, "
      + "request_count, input_tokens, cached_input_tokens, output_tokens, cost_micro_usd, "
      + "COALESCE(list_cost_micro_usd, cost_micro_usd) AS list_cost "
      + "FROM usage_records WHERE org_id = ? AND period_start >= ? AND period_start < ?) r "
      + "GROUP BY epoch_day, team_id, project_id, provider, model_name, job_category, spend_class, via_keld";

  private static List<Group> groups(Connection c, String orgId, Instant from, Instant to) throws SQLException {
    List<Group> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(GROUPS)) {
      Sql.bind(ps, orgId, from, to);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Group(rs.getLong("epoch_day"), rs.getString("team_id"), rs.getString("project_id"), rs.getString("provider"),
              rs.getString("model_name"), rs.getString("job_category"), rs.getString("spend_class"), rs.getInt("via_keld") == 1,
              rs.getBigDecimal("requests"), rs.getBigDecimal("input_tokens"), rs.getBigDecimal("cached_input_tokens"),
              rs.getBigDecimal("output_tokens"), rs.getBigDecimal("cost"), rs.getBigDecimal("list_cost")));
        }
      }
    }
    return out;
  }

  /** Sorted in Java: the two stores order NULLs differently, and the export should not depend on the store. */
  private static List<Group> sorted(List<Group> groups, Names names) {
    Comparator<String> text = Comparator.nullsFirst(Comparator.naturalOrder());
    List<Group> out = new ArrayList<>(groups);
    out.sort(Comparator.comparingLong(Group::epochDay)
        .thenComparing(g -> names.team(teamOf(g, names)), text)
        .thenComparing(g -> projectName(g, names), text)
        .thenComparing(Group::provider, text)
        .thenComparing(Group::model, text)
        .thenComparing(Group::jobCategory, text)
        .thenComparing(Group::spendClass, text)
        .thenComparing(Group::viaKeld));
    return out;
  }

  // ---- one row -----------------------------------------------------------------------------------

  private static List<String> row(Group g, String orgId, Names names) {
    LocalDate day = LocalDate.ofEpochDay(g.epochDay());
    LocalDate month = day.withDayOfMonth(1);
    String teamId = teamOf(g, names);
    String teamName = names.team(teamId);
    String projectName = projectName(g, names);
    ProviderLabel label = PROVIDERS.getOrDefault(g.provider(), new ProviderLabel(g.provider(), g.provider() + " inference"));
    String sku = g.model() == null || g.model().isBlank() ? "unknown" : g.model();
    String cost = usd(g.costMicroUsd());
    BigDecimal tokens = g.inputTokens().add(g.outputTokens());

    Map<String, String> r = new LinkedHashMap<>();
    r.put("BilledCost", cost);
    r.put("BillingAccountId", orgId);
    r.put("BillingAccountName", names.orgName());
    r.put("BillingCurrency", "USD");
    r.put("BillingPeriodEnd", midnight(month.plusMonths(1)));
    r.put("BillingPeriodStart", midnight(month));
    r.put("ChargeCategory", "Usage");
    r.put("ChargeClass", null); // not a correction of an invoiced period
    r.put("ChargeDescription", description(sku, label.name(), teamName, projectName));
    r.put("ChargeFrequency", "Usage-Based");
    r.put("ChargePeriodEnd", midnight(day.plusDays(1)));
    r.put("ChargePeriodStart", midnight(day));
    r.put("ConsumedQuantity", tokens.toPlainString());
    r.put("ConsumedUnit", "Tokens");
    r.put("ContractedCost", cost);
    r.put("EffectiveCost", cost);
    r.put("InvoiceIssuerName", g.viaKeld() ? KELD : label.name());
    r.put("ListCost", usd(g.listCostMicroUsd()));
    r.put("PricingCategory", g.viaKeld() ? "Dynamic" : "Standard");
    r.put("PricingQuantity", tokens.movePointLeft(MICRO).setScale(MICRO).toPlainString());
    r.put("PricingUnit", "1000000 Tokens");
    r.put("ProviderName", label.name());
    r.put("PublisherName", label.name());
    r.put("ServiceCategory", "AI and Machine Learning");
    r.put("ServiceName", g.viaKeld() ? KELD_SERVICE : label.service());
    r.put("ServiceSubcategory", "Generative AI");
    r.put("SkuId", sku);
    // The sub account is the most specific place the usage was assigned to.
    if (g.projectId() != null) {
      r.put("SubAccountId", g.projectId());
      r.put("SubAccountName", projectName);
      r.put("SubAccountType", "Project");
    } else if (teamId != null) {
      r.put("SubAccountId", teamId);
      r.put("SubAccountName", teamName);
      r.put("SubAccountType", "Team");
    } else {
      r.put("SubAccountId", null);
      r.put("SubAccountName", null);
      r.put("SubAccountType", null);
    }
    r.put("Tags", tags(teamName, projectName, g.jobCategory(), g.spendClass()));
    r.put("x_JobCategory", g.jobCategory());
    r.put("x_SpendClass", g.spendClass());
    r.put("x_RequestCount", g.requests().toPlainString());
    r.put("x_InputTokens", g.inputTokens().toPlainString());
    r.put("x_CachedInputTokens", g.cachedInputTokens().toPlainString());
    r.put("x_OutputTokens", g.outputTokens().toPlainString());

    List<String> values = new ArrayList<>(COLUMNS.size());
    for (String column : COLUMNS) {
      if (!r.containsKey(column)) throw new IllegalStateException("no value for column " + column); // keeps COLUMNS and row() in step
      values.add(r.get(column));
    }
    return values;
  }

  /** The record's team, else its project's team: usage placed in a project belongs to that project's team. */
  private static String teamOf(Group g, Names names) {
    if (g.teamId() != null) return g.teamId();
    ProjectName p = g.projectId() == null ? null : names.projects().get(g.projectId());
    return p == null ? null : p.teamId();
  }

  private static String projectName(Group g, Names names) {
    if (g.projectId() == null) return null;
    ProjectName p = names.projects().get(g.projectId());
    return p == null ? g.projectId() : p.name();
  }

  private static String description(String sku, String provider, String team, String project) {
    StringBuilder d = new StringBuilder(sku).append(" tokens via ").append(provider);
    if (team == null && project == null) return d.append(", unassigned").toString();
    if (team != null) d.append(", team ").append(team);
    if (project != null) d.append(", project ").append(project);
    return d.toString();
  }

  /** A JSON object (KeyValueFormat); team and project always, the others when the record has them. */
  private static String tags(String team, String project, String jobCategory, String spendClass) {
    Map<String, String> tags = new TreeMap<>();
    tags.put("team", team == null ? UNASSIGNED : team);
    tags.put("project", project == null ? UNASSIGNED : project);
    if (jobCategory != null) tags.put("job_category", jobCategory);
    if (spendClass != null) tags.put("spend_class", spendClass);
    try {
      return JSON.writeValueAsString(tags);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Micro-USD as USD with six places: exact, no rounding. */
  private static String usd(BigDecimal microUsd) {
    return microUsd.movePointLeft(MICRO).setScale(MICRO).toPlainString();
  }

  private static String midnight(LocalDate day) {
    return DATE_TIME.format(day.atStartOfDay(ZoneOffset.UTC));
  }
}
