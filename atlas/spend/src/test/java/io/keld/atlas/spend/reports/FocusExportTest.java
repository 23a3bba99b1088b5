package io.keld.atlas.spend.reports;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.kit.sql.Sql;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.testkit.TestDatabase;
import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Currency;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import java.util.Arrays;
import java.util.function.Predicate;

/**
 * The FOCUS 1.2 export of the spend ledger on the spend map as a node runs it: an enterprise with two teams and three
 * projects, usage over three days across a month end (several providers and models, capex and opex,
 * marketplace and direct usage, unassigned usage, odd micro-dollar amounts, records just outside the
 * range and in another organization), exported and checked column by column against the FOCUS 1.2
 * rules held here, then against the ledger: costs to the micro-dollar, tokens to the token, one row per
 * key. The validator is shown to reject broken datasets too, so a pass means something.
 *
 * <p>Runs on PostgreSQL, the production store.
 */
class FocusExportTest {

  // ---- FOCUS 1.2 -----------------------------------------------------------------------------------
  // Presence levels: FOCUS 1.2 Requirements Model (finopsfoundation/focus_validator,
  // focus_validator/rules/model-1.2.0.1.json, rules CostAndUsage-D-002-M to D-068). Value rules:
  // FOCUS_Spec specification/requirements_model/model_rules/columns/*.json (rules introduced in 1.2).

  /** Columns that MUST be present in every FOCUS 1.2 cost and usage dataset. */
  static final List<String> MANDATORY = List.of(
      "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
      "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
      "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
      "ServiceCategory", "ServiceName");

  /** Columns that are conditional or recommended in 1.2: allowed, required only when the data has the feature. */
  static final List<String> CONDITIONAL_OR_RECOMMENDED = List.of(
      "AvailabilityZone", "BillingAccountType", "CapacityReservationId", "CapacityReservationStatus", "ChargeFrequency",
      "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountQuantity",
      "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit",
      "ContractedUnitPrice", "InvoiceId", "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
      "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "RegionId", "RegionName", "ResourceId", "ResourceName",
      "ResourceType", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName",
      "SubAccountType", "Tags");

  /** Conditional columns this ledger has the feature for, so MUST be present (see FocusExport's Javadoc). */
  static final List<String> REQUIRED_HERE = List.of(
      "ConsumedQuantity", "ConsumedUnit", "PricingCategory", "SubAccountId", "SubAccountName", "SubAccountType", "Tags");

  /** Columns that MUST NOT be null on any row (1.2 nullability rules), when present. */
  static final List<String> NEVER_NULL = List.of(
      "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
      "ChargeCategory", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
      "ProviderName", "PublisherName", "ServiceCategory", "ServiceName", "ChargeFrequency", "ServiceSubcategory");

  static final List<String> DECIMALS = List.of(
      "BilledCost", "ContractedCost", "EffectiveCost", "ListCost", "PricingQuantity", "ConsumedQuantity", "ListUnitPrice",
      "ContractedUnitPrice", "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
      "PricingCurrencyListUnitPrice");
  static final List<String> DATE_TIMES = List.of("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd");
  static final List<String> UNITS = List.of("PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit");

  static final Set<String> CHARGE_CATEGORIES = Set.of("Usage", "Purchase", "Tax", "Credit", "Adjustment");
  static final Set<String> CHARGE_FREQUENCIES = Set.of("One-Time", "Recurring", "Usage-Based");
  static final Set<String> PRICING_CATEGORIES = Set.of("Standard", "Committed", "Dynamic", "Other");
  static final Set<String> SERVICE_CATEGORIES = Set.of("AI and Machine Learning", "Analytics", "Business Applications", "Compute",
      "Databases", "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance",
      "Media", "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other");
  /** The subcategories whose one parent is "AI and Machine Learning". */
  static final Set<String> AI_SUBCATEGORIES = Set.of("AI Platforms", "Bots", "Generative AI", "Machine Learning",
      "Natural Language Processing", "Other (AI and Machine Learning)");

  /** NumericFormat: integer, decimal or E notation; no "+" sign, no thousands separators, no symbols. */
  static final Pattern NUMERIC = Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?(E-?[0-9]+)?");
  /** DateTimeFormat: extended ISO 8601 in UTC, 'YYYY-MM-DDTHH:mm:ssZ'. */
  static final Pattern DATE_TIME = Pattern.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  /** UnitFormat: an optional positive integer quantity, then capitalized base units joined by "-" or "/". */
  static final Pattern UNIT = Pattern.compile("([1-9][0-9]* )?[A-Z][A-Za-z]*([-/]([1-9][0-9]* )?[A-Z][A-Za-z]*)*");
  /** Column naming: FOCUS columns are alphanumeric PascalCase; custom columns carry the x_ prefix. */
  static final Pattern FOCUS_NAME = Pattern.compile("[A-Z][A-Za-z0-9]*");

  private static final ObjectMapper JSON = new ObjectMapper();

  // ---- the scenario ----------------------------------------------------------------------------------

  static final Instant FROM = Instant.parse("2025-03-30T00:00:00Z");
  static final Instant TO = Instant.parse("2025-04-02T00:00:00Z");

  @Test
  void theLedgerExportsAsAValidFocusDatasetThatAddsUpExactly() throws Exception {
    ExecutorService blocking = Executors.newFixedThreadPool(2);
    try (TestDatabase db = TestDatabase.postgres()) {
      SpendNode node = SpendNode.startReady(SpendNode.config(db));
      try {
        TenancyStore tenancy = node.governance().tenancy();
        Organization acme = await(tenancy.createOrganization("Acme Analytics", OrgKind.ENTERPRISE));
        Organization other = await(tenancy.createOrganization("Other Corp", OrgKind.ENTERPRISE));
        Team data = await(tenancy.createTeam(acme.id(), "Data"));
        // A comma and quotes in names: the CSV has to quote them, the parser has to read them back.
        Team platform = await(tenancy.createTeam(acme.id(), "Platform, Infra"));
        Project search = await(tenancy.createProject(data, "Search"));
        Project ranking = await(tenancy.createProject(data, "Ranking \"v2\""));
        Project gateway = await(tenancy.createProject(platform, "Gateway"));

        List<UsageRecord> records = new ArrayList<>();
        Consumer<UsageRecord> add = records::add;
        // 30 March: two records of one key (summed into one row), one just before midnight.
        add.accept(record(acme, "a1", "otlp", data, search, "2025-03-30T09:15:00Z", "openai", "gpt-4o-mini", 1200, 300, 1_234_567, 1_500_000L,
            "search", "opex"));
        add.accept(record(acme, "a2", "otlp", data, search, "2025-03-30T23:59:59.500Z", "openai", "gpt-4o-mini", 800, 45, 987_653, null,
            "search", "opex"));
        add.accept(record(acme, "a3", "anthropic_usage", data, ranking, "2025-03-30T12:00:00Z", "anthropic", "claude-sonnet-4", 50_000,
            7_001, 42_000_001, 42_000_001L, "ranking", "capex"));
        add.accept(record(acme, "a4", "keld", platform, gateway, "2025-03-30T03:00:00Z", "prv_demo_sage", "llama-3.1-70b", 9_999, 1_111, 3,
            5L, "summaries", "opex"));
        // The first instant of the range is in it.
        add.accept(record(acme, "a5", "otlp", null, null, "2025-03-30T00:00:00Z", "openai", "gpt-4o", 10, 1, 1, null, null, null));
        // 31 March: the same key as a1 on the next day is another row; a team without a project.
        add.accept(record(acme, "b1", "otlp", data, search, "2025-03-31T00:00:00Z", "openai", "gpt-4o-mini", 333, 777, 999_999, 1_000_001L,
            "search", "opex"));
        add.accept(record(acme, "b2", "litellm", platform, null, "2025-03-31T18:30:00Z", "aws.bedrock", "amazon.nova-pro", 123_456, 654,
            987_654_321, 1_000_000_000L, "agents", "capex"));
        // The same provider and model once through the marketplace and once directly: the biller splits them.
        add.accept(record(acme, "b3", "keld", data, ranking, "2025-03-31T10:00:00Z", "openai", "gpt-4o", 4_000, 4_000, 77_777, 80_000L,
            "ranking", "capex"));
        add.accept(record(acme, "b4", "otlp", data, ranking, "2025-03-31T11:00:00Z", "openai", "gpt-4o", 4_000, 4_000, 88_888, 80_000L,
            "ranking", "capex"));
        // 1 April: a new billing month; unassigned usage with an unknown model.
        add.accept(record(acme, "c1", "otlp", null, null, "2025-04-01T07:07:07Z", "mistral_ai", null, 2_500, 2_500, 12_345, null,
            "chat", "opex"));
        add.accept(record(acme, "c2", "openai_usage", data, search, "2025-04-01T23:00:00Z", "openai", "text-embedding-3-small", 1_000_000, 0,
            20_000, 20_000L, "embeddings", "capex"));
        // Outside the range: just before it, at its exclusive end, and another organization's usage.
        add.accept(record(acme, "x1", "otlp", data, search, "2025-03-29T23:59:59.999Z", "openai", "gpt-4o-mini", 5, 5, 111, null, "search",
            "opex"));
        add.accept(record(acme, "x2", "otlp", data, search, "2025-04-02T00:00:00Z", "openai", "gpt-4o-mini", 5, 5, 222, null, "search",
            "opex"));
        add.accept(record(other, "y1", "otlp", null, null, "2025-03-31T12:00:00Z", "openai", "gpt-4o", 5, 5, 333, null, null, null));
        assertEquals(records.size(), await(node.spend().ingest().ledger().append(records)).accepted());

        Sql sql = new Sql(node.database().dataSource(), blocking);
        String csv = await(new FocusExport(sql).csv(acme.id(), FROM, TO));
        Table table = parse(csv);

        // 1. The dataset conforms to the FOCUS 1.2 rules held above.
        assertEquals(List.of(), violations(table), () -> "FOCUS violations in:\n" + csv);
        for (String column : REQUIRED_HERE) assertTrue(table.header.contains(column), column + " is required for this data");

        // 2. It says what the ledger says.
        List<UsageRecord> inRange = records.stream()
            .filter(r -> r.orgId.equals(acme.id()) && !r.periodStart.isBefore(FROM) && r.periodStart.isBefore(TO)).toList();
        assertEquals(11, inRange.size());
        Set<List<Object>> keys = new HashSet<>();
        for (UsageRecord r : inRange) {
          keys.add(Arrays.asList(r.periodStart.truncatedTo(ChronoUnit.DAYS), r.teamId, r.projectId, r.provider, r.model(),
              r.jobCategory, r.spendClass, r.source.equals("keld")));
        }
        assertEquals(keys.size(), table.rows.size(), "one row per day, team, project, provider, model, category, class and biller");

        long ledgerMicroUsd = ledgerTotal(db, acme.id(), "cost_micro_usd");
        assertEquals(inRange.stream().mapToLong(r -> r.costMicroUsd).sum(), ledgerMicroUsd);
        // BigDecimal equality, scale included: exact to the micro-dollar, nothing rounded on the way.
        assertEquals(BigDecimal.valueOf(ledgerMicroUsd, 6), sum(table, "BilledCost"), "BilledCost sums to the ledger's total");
        assertEquals(BigDecimal.valueOf(ledgerTotal(db, acme.id(), "COALESCE(list_cost_micro_usd, cost_micro_usd)"), 6),
            sum(table, "ListCost"), "ListCost sums to the ledger's list total");
        long tokens = inRange.stream().mapToLong(r -> r.inputTokens + r.outputTokens).sum();
        assertEquals(BigDecimal.valueOf(tokens), sum(table, "ConsumedQuantity"), "ConsumedQuantity sums to the tokens");
        assertEquals(BigDecimal.valueOf(tokens, 6), sum(table, "PricingQuantity"), "PricingQuantity is tokens in millions");

        Map<String, String> names = Map.of(data.id(), data.name(), platform.id(), platform.name(), search.id(), search.name(),
            ranking.id(), ranking.name(), gateway.id(), gateway.name());
        int unassigned = 0;
        for (Map<String, String> row : table.rows) {
          assertEquals("AI and Machine Learning", row.get("ServiceCategory"));
          assertEquals("Usage", row.get("ChargeCategory"));
          assertNull(row.get("ChargeClass"), "no corrections");
          assertEquals("USD", row.get("BillingCurrency"));
          assertEquals(acme.id(), row.get("BillingAccountId"));
          assertEquals("Acme Analytics", row.get("BillingAccountName"));
          assertEquals("Tokens", row.get("ConsumedUnit"));
          assertEquals("1000000 Tokens", row.get("PricingUnit"));
          assertEquals(row.get("BilledCost"), row.get("EffectiveCost"));
          assertEquals(row.get("BilledCost"), row.get("ContractedCost"));
          assertEquals(row.get("ProviderName"), row.get("PublisherName"));
          assertEquals(new BigDecimal(row.get("ConsumedQuantity")),
              new BigDecimal(row.get("x_InputTokens")).add(new BigDecimal(row.get("x_OutputTokens"))));

          // The charge period is one UTC day, the billing period its calendar month.
          Instant start = Instant.parse(row.get("ChargePeriodStart"));
          assertEquals(start.truncatedTo(ChronoUnit.DAYS), start);
          assertEquals(start.plus(Duration.ofDays(1)), Instant.parse(row.get("ChargePeriodEnd")));
          LocalDate month = LocalDate.ofInstant(start, ZoneOffset.UTC).withDayOfMonth(1);
          assertEquals(month.atStartOfDay(ZoneOffset.UTC).toInstant(), Instant.parse(row.get("BillingPeriodStart")));
          assertEquals(month.plusMonths(1).atStartOfDay(ZoneOffset.UTC).toInstant(), Instant.parse(row.get("BillingPeriodEnd")));

          JsonNode tags = JSON.readTree(row.get("Tags"));
          assertTrue(tags.has("team") && tags.has("project"), "team and project are tags: " + tags);
          assertEquals(row.get("x_SpendClass"), tags.path("spend_class").textValue());
          assertEquals(row.get("x_JobCategory"), tags.path("job_category").textValue());
          if (row.get("x_SpendClass") != null) assertTrue(Set.of("capex", "opex").contains(row.get("x_SpendClass")), row.toString());
          if (row.get("SubAccountId") == null) {
            unassigned++;
            assertEquals("unassigned", tags.path("team").textValue());
            assertEquals("unassigned", tags.path("project").textValue());
            assertTrue(row.get("ChargeDescription").contains("unassigned"), row.get("ChargeDescription"));
          } else {
            assertEquals(names.get(row.get("SubAccountId")), row.get("SubAccountName"));
            String type = row.get("SubAccountType");
            assertTrue(type.equals("Project") || type.equals("Team"), type);
            String tagged = type.equals("Project") ? tags.path("project").textValue() : tags.path("team").textValue();
            assertEquals(row.get("SubAccountName"), tagged);
          }
          boolean viaKeld = "Keld".equals(row.get("InvoiceIssuerName"));
          assertEquals(viaKeld ? "Dynamic" : "Standard", row.get("PricingCategory"));
          if (!viaKeld) assertEquals(row.get("ProviderName"), row.get("InvoiceIssuerName"), "direct usage is billed by its provider");
        }
        assertEquals(2, unassigned, "unassigned usage is exported: one row each for 30 March and 1 April");
        assertTrue(table.rows.stream().anyMatch(r -> "capex".equals(r.get("x_SpendClass"))));
        assertTrue(table.rows.stream().anyMatch(r -> "opex".equals(r.get("x_SpendClass"))));

        Map<String, String> searchDay1 = only(table, r -> "Search".equals(r.get("SubAccountName"))
            && r.get("ChargePeriodStart").equals("2025-03-30T00:00:00Z"));
        assertEquals("2.222220", searchDay1.get("BilledCost"), "1.234567 + 0.987653 in one row");
        assertEquals("2345", searchDay1.get("ConsumedQuantity"));
        assertEquals("0.002345", searchDay1.get("PricingQuantity"));
        assertEquals("2.487653", searchDay1.get("ListCost"), "a missing list cost counts at the cost");
        assertEquals("gpt-4o-mini", searchDay1.get("SkuId"));
        assertEquals("gpt-4o-mini tokens via OpenAI, team Data, project Search", searchDay1.get("ChargeDescription"));
        assertEquals("{\"job_category\":\"search\",\"project\":\"Search\",\"spend_class\":\"opex\",\"team\":\"Data\"}",
            searchDay1.get("Tags"));

        Map<String, String> teamOnly = only(table, r -> "Team".equals(r.get("SubAccountType")));
        assertEquals(platform.id(), teamOnly.get("SubAccountId"));
        assertEquals("987.654321", teamOnly.get("BilledCost"));
        assertEquals("Amazon Bedrock", teamOnly.get("ServiceName"));

        List<Map<String, String>> gpt4o = table.rows.stream().filter(r -> "gpt-4o".equals(r.get("SkuId"))
            && "Ranking \"v2\"".equals(r.get("SubAccountName"))).toList();
        assertEquals(2, gpt4o.size(), "marketplace and direct usage of one model are separate rows");
        assertEquals(Set.of("Keld", "OpenAI"), Set.of(gpt4o.get(0).get("InvoiceIssuerName"), gpt4o.get(1).get("InvoiceIssuerName")));

        Map<String, String> noModel = only(table, r -> "Mistral AI".equals(r.get("ProviderName")));
        assertEquals("unknown", noModel.get("SkuId"), "SkuId is never null on usage rows");

        // 3. The validator rejects what is not FOCUS 1.2, so the pass above means something.
        assertRejected(table, t -> t.drop("BillingCurrency"), "missing mandatory column BillingCurrency");
        assertRejected(table, t -> t.drop("ChargeClass"), "missing mandatory column ChargeClass");
        assertRejected(table, t -> t.rename("ListCost", "ListPrice"), "unknown column ListPrice");
        assertRejected(table, t -> t.set("BilledCost", "1,5"), "BilledCost");
        assertRejected(table, t -> t.set("ListCost", "+2.5"), "ListCost");
        assertRejected(table, t -> t.set("ChargePeriodStart", "2025-03-30 00:00:00"), "ChargePeriodStart");
        assertRejected(table, t -> t.set("ChargePeriodEnd", t.last().get("ChargePeriodStart")), "ChargePeriodStart < ChargePeriodEnd");
        assertRejected(table, t -> t.set("ChargeCategory", "Consumption"), "ChargeCategory");
        assertRejected(table, t -> t.set("ServiceCategory", "Artificial Intelligence"), "ServiceCategory");
        assertRejected(table, t -> t.set("BillingCurrency", "XYZ"), "BillingCurrency");
        assertRejected(table, t -> t.set("Tags", "[\"team\"]"), "Tags");
        assertRejected(table, t -> t.set("EffectiveCost", null), "EffectiveCost");
        assertRejected(table, t -> t.set("InvoiceIssuerName", ""), "InvoiceIssuerName");
        assertRejected(table, t -> t.set("PricingUnit", "1M Tokens"), "PricingUnit");
        assertRejected(table, t -> t.set("SubAccountType", null), "SubAccountType");
        // ...and a broken dataset written back as CSV is still read the same way.
        assertEquals(List.of(), violations(parse(write(table))));

        // 4. Refusals: an unknown organization, an empty range.
        ExecutionException unknown = assertThrows(ExecutionException.class,
            () -> new FocusExport(sql).csv("org_nope", FROM, TO).toCompletableFuture().get(30, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, unknown.getCause());
        assertThrows(ExecutionException.class,
            () -> new FocusExport(sql).csv(acme.id(), TO, FROM).toCompletableFuture().get(30, TimeUnit.SECONDS));
      } finally {
        node.stop();
        node.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    } finally {
      blocking.shutdownNow();
    }
  }

  private static UsageRecord record(Organization org, String event, String source, Team team, Project project, String at, String provider,
      String model, long input, long output, long costMicroUsd, Long listCostMicroUsd, String jobCategory, String spendClass) {
    UsageRecord r = new UsageRecord();
    r.orgId = org.id();
    r.source = source;
    r.sourceEventId = event;
    r.teamId = team == null ? null : team.id();
    r.projectId = project == null ? null : project.id();
    r.periodStart = Instant.parse(at);
    r.periodEnd = r.periodStart.plusSeconds(2);
    r.provider = provider;
    r.modelRequested = model;
    r.modelServed = model;
    r.inputTokens = input;
    r.cachedInputTokens = input / 4;
    r.outputTokens = output;
    r.costMicroUsd = costMicroUsd;
    r.listCostMicroUsd = listCostMicroUsd;
    r.costSource = source.equals("keld") || source.endsWith("_usage") ? UsageRecord.CostSources.PROVIDER : UsageRecord.CostSources.COMPUTED;
    r.jobCategory = jobCategory;
    r.spendClass = spendClass;
    return r;
  }

  /** The ledger's own sum of {@code expression} over the organization's records in the range. */
  private static long ledgerTotal(TestDatabase db, String orgId, String expression) throws Exception {
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement(
        "SELECT SUM(" + expression + ") FROM usage_records WHERE org_id = ? AND period_start >= ? AND period_start < ?")) {
      ps.setString(1, orgId);
      ps.setTimestamp(2, Timestamp.from(FROM));
      ps.setTimestamp(3, Timestamp.from(TO));
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        return rs.getBigDecimal(1).longValueExact();
      }
    }
  }

  private static BigDecimal sum(Table t, String column) {
    BigDecimal s = BigDecimal.ZERO;
    for (Map<String, String> row : t.rows) s = s.add(new BigDecimal(row.get(column)));
    return s;
  }

  private static Map<String, String> only(Table t, Predicate<Map<String, String>> which) {
    List<Map<String, String>> found = t.rows.stream().filter(which).toList();
    assertEquals(1, found.size(), () -> "rows found: " + found);
    return found.get(0);
  }

  private static void assertRejected(Table valid, Consumer<Table> breakIt, String expected) {
    Table broken = valid.copy();
    breakIt.accept(broken);
    List<String> problems = violations(parse(write(broken)));
    assertTrue(problems.stream().anyMatch(p -> p.contains(expected)), () -> "expected a violation about " + expected + ", got " + problems);
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  // ---- the FOCUS 1.2 validator ------------------------------------------------------------------------

  /** Every FOCUS 1.2 rule above that {@code t} breaks, one line each; empty when it conforms. */
  static List<String> violations(Table t) {
    List<String> out = new ArrayList<>();
    Set<String> known = new HashSet<>(MANDATORY);
    known.addAll(CONDITIONAL_OR_RECOMMENDED);
    for (String column : MANDATORY) {
      if (!t.header.contains(column)) out.add("missing mandatory column " + column);
    }
    Set<String> seen = new HashSet<>();
    for (String column : t.header) {
      if (!seen.add(column)) out.add("duplicate column " + column);
      if (column.startsWith("x_")) continue;
      if (!known.contains(column)) out.add("unknown column " + column + " (custom columns need the x_ prefix)");
      else if (!FOCUS_NAME.matcher(column).matches()) out.add("badly named column " + column);
    }
    if (t.rows.isEmpty()) out.add("no rows");
    for (int i = 0; i < t.rows.size(); i++) {
      Map<String, String> row = t.rows.get(i);
      String at = "row " + (i + 1) + ": ";
      if (row.size() != t.header.size()) {
        out.add(at + row.size() + " fields for " + t.header.size() + " columns");
        continue;
      }
      for (Map.Entry<String, String> f : row.entrySet()) {
        if (f.getValue() != null && f.getValue().isEmpty()) out.add(at + f.getKey() + " is an empty string (NullHandling: use null)");
      }
      for (String c : NEVER_NULL) {
        if (t.header.contains(c) && row.get(c) == null) out.add(at + c + " is null");
      }
      for (String c : DECIMALS) {
        String v = row.get(c);
        if (v != null && !v.isEmpty() && !NUMERIC.matcher(v).matches()) out.add(at + c + " is not a decimal: " + v);
      }
      for (String c : DATE_TIMES) {
        String v = row.get(c);
        if (v != null && !v.isEmpty() && !DATE_TIME.matcher(v).matches()) out.add(at + c + " is not YYYY-MM-DDTHH:mm:ssZ: " + v);
      }
      for (String c : UNITS) {
        String v = row.get(c);
        if (v != null && !v.isEmpty() && !UNIT.matcher(v).matches()) out.add(at + c + " is not in UnitFormat: " + v);
      }
      Instant chargeStart = instant(row.get("ChargePeriodStart"));
      Instant chargeEnd = instant(row.get("ChargePeriodEnd"));
      if (chargeStart != null && chargeEnd != null && !chargeStart.isBefore(chargeEnd)) {
        out.add(at + "needs ChargePeriodStart < ChargePeriodEnd");
      }
      Instant billingStart = instant(row.get("BillingPeriodStart"));
      Instant billingEnd = instant(row.get("BillingPeriodEnd"));
      if (billingStart != null && billingEnd != null && !billingStart.isBefore(billingEnd)) {
        out.add(at + "needs BillingPeriodStart < BillingPeriodEnd");
      }
      String currency = row.get("BillingCurrency");
      if (currency != null && !isIso4217(currency)) out.add(at + "BillingCurrency is not an ISO 4217 code: " + currency);
      String category = row.get("ChargeCategory");
      if (category != null && !CHARGE_CATEGORIES.contains(category)) out.add(at + "ChargeCategory not allowed: " + category);
      String chargeClass = row.get("ChargeClass");
      if (chargeClass != null && !chargeClass.equals("Correction")) out.add(at + "ChargeClass must be null or Correction: " + chargeClass);
      String frequency = row.get("ChargeFrequency");
      if (frequency != null && !CHARGE_FREQUENCIES.contains(frequency)) out.add(at + "ChargeFrequency not allowed: " + frequency);
      String serviceCategory = row.get("ServiceCategory");
      if (serviceCategory != null && !SERVICE_CATEGORIES.contains(serviceCategory)) {
        out.add(at + "ServiceCategory not allowed: " + serviceCategory);
      }
      String subcategory = row.get("ServiceSubcategory");
      if (subcategory != null && "AI and Machine Learning".equals(serviceCategory) && !AI_SUBCATEGORIES.contains(subcategory)) {
        out.add(at + "ServiceSubcategory " + subcategory + " is not under " + serviceCategory);
      }
      boolean usageOrPurchase = "Usage".equals(category) || "Purchase".equals(category);
      boolean correction = "Correction".equals(chargeClass);
      if (usageOrPurchase && !correction) {
        // Nullability rules of 1.2 that depend on the charge: a usage or purchase row is priced and metered.
        for (String c : List.of("PricingQuantity", "PricingUnit", "PricingCategory", "SkuId", "SkuPriceId", "ListUnitPrice")) {
          if (t.header.contains(c) && row.get(c) == null) out.add(at + c + " is null on a " + category + " row");
        }
      }
      String pricingCategory = row.get("PricingCategory");
      if (pricingCategory != null && !PRICING_CATEGORIES.contains(pricingCategory)) {
        out.add(at + "PricingCategory not allowed: " + pricingCategory);
      }
      if (t.header.contains("ConsumedQuantity")) {
        boolean usage = "Usage".equals(category);
        String consumed = row.get("ConsumedQuantity");
        if (usage && !correction && !"Unused".equals(row.get("CommitmentDiscountStatus")) && consumed == null) {
          out.add(at + "ConsumedQuantity is null on a Usage row");
        }
        if (!usage && consumed != null) out.add(at + "ConsumedQuantity must be null on a " + category + " row");
        if (consumed != null && t.header.contains("ConsumedUnit") && row.get("ConsumedUnit") == null) {
          out.add(at + "ConsumedUnit is null while ConsumedQuantity is not");
        }
      }
      if (t.header.contains("SubAccountId")) {
        boolean hasSubAccount = row.get("SubAccountId") != null;
        for (String c : List.of("SubAccountName", "SubAccountType")) {
          if (t.header.contains(c) && hasSubAccount != (row.get(c) != null)) {
            out.add(at + c + " must be null exactly when SubAccountId is null");
          }
        }
      }
      String tags = row.get("Tags");
      if (tags != null) {
        try {
          if (!JSON.readTree(tags).isObject()) out.add(at + "Tags is not a JSON object (KeyValueFormat): " + tags);
        } catch (IOException e) {
          out.add(at + "Tags is not JSON (KeyValueFormat): " + tags);
        }
      }
    }
    return out;
  }

  private static Instant instant(String value) {
    if (value == null || !DATE_TIME.matcher(value).matches()) return null;
    return Instant.parse(value);
  }

  private static boolean isIso4217(String code) {
    if (!code.matches("[A-Z]{3}")) return false;
    return Currency.getAvailableCurrencies().stream().anyMatch(c -> c.getCurrencyCode().equals(code));
  }

  // ---- RFC 4180 ----------------------------------------------------------------------------------------

  /** A parsed dataset: the header and the rows by column name. A null value is an empty unquoted field. */
  static final class Table {
    final List<String> header;
    final List<Map<String, String>> rows;

    Table(List<String> header, List<Map<String, String>> rows) {
      this.header = header;
      this.rows = rows;
    }

    Table copy() {
      List<Map<String, String>> copied = new ArrayList<>();
      for (Map<String, String> row : rows) copied.add(new LinkedHashMap<>(row));
      return new Table(new ArrayList<>(header), copied);
    }

    void drop(String column) {
      header.remove(column);
      for (Map<String, String> row : rows) row.remove(column);
    }

    void rename(String column, String to) {
      header.set(header.indexOf(column), to);
      for (int i = 0; i < rows.size(); i++) {
        Map<String, String> renamed = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : rows.get(i).entrySet()) renamed.put(e.getKey().equals(column) ? to : e.getKey(), e.getValue());
        rows.set(i, renamed);
      }
    }

    /** The last row: usage with a project (rows are ordered by day, and unassigned usage comes first in a day). */
    Map<String, String> last() {
      return rows.get(rows.size() - 1);
    }

    /** Sets the column on the last row only: one bad row must be enough to fail. */
    void set(String column, String value) {
      last().put(column, value);
    }
  }

  /**
   * Parses RFC 4180 CSV: fields separated by commas, records by CRLF; a quoted field may hold commas,
   * CR, LF and doubled quotes. Tells an empty quoted field (an empty string) from an empty unquoted one
   * (null), so the validator can hold the export to FOCUS's null handling.
   */
  static Table parse(String csv) {
    List<List<String>> records = new ArrayList<>();
    List<String> record = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    int i = 0;
    int n = csv.length();
    while (i < n) {
      char ch = csv.charAt(i);
      if (field.length() == 0 && !quoted && ch == '"') {
        // A quoted field: read to the closing quote; "" inside is one quote.
        quoted = true;
        i++;
        while (true) {
          if (i >= n) throw new IllegalArgumentException("unterminated quoted field");
          char q = csv.charAt(i);
          if (q == '"') {
            if (i + 1 < n && csv.charAt(i + 1) == '"') {
              field.append('"');
              i += 2;
              continue;
            }
            i++;
            break;
          }
          field.append(q);
          i++;
        }
        if (i < n && csv.charAt(i) != ',' && csv.charAt(i) != '\r') {
          throw new IllegalArgumentException("text after a closing quote at " + i);
        }
        continue;
      }
      if (ch == ',') {
        record.add(value(field, quoted));
        field.setLength(0);
        quoted = false;
        i++;
      } else if (ch == '\r') {
        if (i + 1 >= n || csv.charAt(i + 1) != '\n') throw new IllegalArgumentException("CR without LF at " + i);
        record.add(value(field, quoted));
        records.add(record);
        record = new ArrayList<>();
        field.setLength(0);
        quoted = false;
        i += 2;
      } else if (ch == '\n') {
        throw new IllegalArgumentException("LF without CR at " + i + " (RFC 4180 records end with CRLF)");
      } else if (ch == '"') {
        throw new IllegalArgumentException("quote inside an unquoted field at " + i);
      } else {
        field.append(ch);
        i++;
      }
    }
    if (field.length() > 0 || quoted || !record.isEmpty()) {
      record.add(value(field, quoted));
      records.add(record);
    }
    if (records.isEmpty()) throw new IllegalArgumentException("no header");
    List<String> header = new ArrayList<>(records.get(0));
    List<Map<String, String>> rows = new ArrayList<>();
    for (List<String> r : records.subList(1, records.size())) {
      Map<String, String> row = new LinkedHashMap<>();
      for (int c = 0; c < r.size(); c++) row.put(c < header.size() ? header.get(c) : "#" + c, r.get(c));
      rows.add(row);
    }
    return new Table(header, rows);
  }

  private static String value(StringBuilder field, boolean quoted) {
    return field.length() == 0 && !quoted ? null : field.toString();
  }

  /** Writes a table back as RFC 4180 CSV; an empty string is written quoted so it stays one. */
  static String write(Table t) {
    StringBuilder out = new StringBuilder();
    writeRecord(out, t.header);
    for (Map<String, String> row : t.rows) {
      List<String> fields = new ArrayList<>();
      for (String c : t.header) fields.add(row.get(c));
      writeRecord(out, fields);
    }
    return out.toString();
  }

  private static void writeRecord(StringBuilder out, List<String> fields) {
    for (int i = 0; i < fields.size(); i++) {
      if (i > 0) out.append(',');
      String f = fields.get(i);
      if (f == null) continue;
      boolean quote = f.isEmpty() || f.chars().anyMatch(ch -> ch == ',' || ch == '"' || ch == '\r' || ch == '\n');
      out.append(quote ? '"' + f.replace("\"", "\"\"") + '"' : f);
    }
    out.append("\r\n");
  }

  static {
    // The column lists are one spec: a column is mandatory or not, never both, and what this data
    // requires is one of the conditional columns.
    Set<String> all = new HashSet<>(MANDATORY);
    for (String c : CONDITIONAL_OR_RECOMMENDED) {
      if (!all.add(c)) throw new IllegalStateException("listed twice: " + c);
    }
    if (!CONDITIONAL_OR_RECOMMENDED.containsAll(REQUIRED_HERE)) throw new IllegalStateException("REQUIRED_HERE is not conditional");
    if (all.size() != 57) throw new IllegalStateException("FOCUS 1.2 has 57 cost and usage columns, listed " + all.size());
  }
}
