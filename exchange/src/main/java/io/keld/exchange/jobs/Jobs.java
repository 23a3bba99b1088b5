package io.keld.exchange.jobs;

import io.keld.atlas.budget.BudgetLedger;
import io.keld.atlas.governance.Access;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.kit.ProblemException;
import io.keld.ixp.Ids;
import io.keld.ixp.Money;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.problem.ProblemType;
import io.keld.marketplace.book.OrderBookCore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import java.util.HexFormat;

/**
 * Deadline jobs on this node: admission (validation, project and access, the backup and the
 * escalation point), then the job's entity does the rest. Reading, cancelling and following a job
 * go to its entity wherever it runs.
 */
public final class Jobs {

  public static final Set<String> SPEND_CLASSES = Set.of("capex", "opex");
  private static final int MAX_SET = 64;
  private static final int MAX_TAGS = 32;

  private final ClusterSharding sharding;
  private final TenancyStore tenancy;
  private final BackupPolicies backups;
  private final JobSettings settings;
  private final Set<String> useCases;
  private final Clock clock;
  private final Duration timeout;

  public Jobs(ActorSystem<?> system, TenancyStore tenancy, BackupPolicies backups, JobSettings settings, Set<String> useCases, Clock clock,
      Duration timeout) {
    this.sharding = ClusterSharding.get(system);
    this.tenancy = tenancy;
    this.backups = backups;
    this.settings = settings;
    this.useCases = Set.copyOf(useCases);
    this.clock = clock;
    this.timeout = timeout;
  }

  public BackupPolicies backups() {
    return backups;
  }

  public JobSettings settings() {
    return settings;
  }

  /**
   * Admits a job for the key's organization. Fails with a {@link ProblemException} for a bad request
   * (422 naming the field), a project the key cannot see (404) or spend in (403). Completes when
   * the job's admission is decided: accepted (on the book, matched or escalated), refused by a
   * budget, or a reused idempotency key with another body.
   *
   * @param idempotencyKey the client's key, or null; the same key from the same organization returns the same job
   * @param requestHash    a digest of the request as the client sent it, or null to compute one from {@code request}
   */
  public CompletionStage<DeadlineJob.SubmitReply> submit(Principal principal, JobRequest request, String idempotencyKey,
      String requestHash) {
    long now = clock.millis();
    try {
      validate(request, idempotencyKey, now);
    } catch (ProblemException e) {
      return CompletableFuture.failedFuture(e);
    }
    return spendableProject(principal, request.projectId()).thenCompose(project -> {
      String hash = requestHash != null ? requestHash : fingerprint(request, project.id());
      CompletionStage<Optional<Backup>> backup = request.backup() != null
          ? CompletableFuture.completedFuture(Optional.of(new Backup(request.backup().providerId(), request.backup().model(),
              request.backup().pricePerMtok(), request.backup().throughputTps(), "request")))
          : backups.forProject(project.id());
      return backup.thenCompose(b -> {
        // A backup dearer than the ceiling cannot be the job's guarantee: the job runs without one.
        Backup eligible = b.filter(x -> x.pricePerMtok() <= request.ceilingPerMtok()).orElse(null);
        String jobId = idempotencyKey == null ? Ids.next("job") : jobIdFor(project.orgId(), idempotencyKey);
        JobSpec spec = spec(jobId, principal, project, request, now, idempotencyKey, hash);
        long escalateAt = escalationPoint(spec, eligible);
        return job(jobId).<DeadlineJob.SubmitReply>ask(r -> new DeadlineJob.Submit(spec, eligible, escalateAt, r), timeout);
      });
    });
  }

  /** The job, if it exists. */
  public CompletionStage<Optional<JobView>> get(String jobId) {
    if (!plausibleId(jobId)) return CompletableFuture.completedFuture(Optional.empty());
    return job(jobId).<DeadlineJob.GetReply>ask(DeadlineJob.Get::new, timeout).thenApply(r -> Optional.ofNullable(r.view()));
  }

  public CompletionStage<DeadlineJob.CancelReply> cancel(String jobId, String reason) {
    if (!plausibleId(jobId)) return CompletableFuture.completedFuture(new DeadlineJob.CancelReply(null, false));
    return job(jobId).ask(r -> new DeadlineJob.Cancel(reason, r), timeout);
  }

  /** Sends {@code subscriber} the job's view now and after every change until the job is settled. */
  public void follow(String jobId, ActorRef<JobView> subscriber) {
    job(jobId).tell(new DeadlineJob.Follow(subscriber));
  }

  public void unfollow(String jobId, ActorRef<JobView> subscriber) {
    job(jobId).tell(new DeadlineJob.Unfollow(subscriber));
  }

  EntityRef<DeadlineJob.Command> job(String jobId) {
    return sharding.entityRefFor(DeadlineJob.ENTITY_KEY, jobId);
  }

  /** Job ids are {@code job_} and 16 base32 characters; anything else names no job (and starts no entity). */
  public static boolean plausibleId(String jobId) {
    return jobId != null && jobId.matches("job_[0-9a-z]{16}");
  }

  /** The escalation point ({@link JobSettings#escalationPoint}). */
  long escalationPoint(JobSpec spec, Backup backup) {
    return escalationPoint(spec.deadlineMillis(), spec.estimatedTokens(), backup);
  }

  /** The escalation point of a job with this deadline and these tokens (for quotes, before any job exists). */
  public long escalationPoint(long deadlineMillis, long estimatedTokens, Backup backup) {
    return settings.escalationPoint(deadlineMillis, estimatedTokens, backup);
  }

  /** The use cases jobs may name. */
  public Set<String> useCases() {
    return useCases;
  }

  /**
   * The project a request's spend belongs to, as the key sees it: 404 if the key cannot see it,
   * 403 if it may not spend in it.
   */
  public CompletionStage<Project> spendableProject(Principal principal, String requested) {
    String projectId = requested != null ? requested : principal.projectId();
    if (projectId == null) {
      return CompletableFuture.failedFuture(ProblemException.invalid("project_id",
          "name the project the job's spend belongs to, or use a key scoped to one project"));
    }
    return tenancy.project(projectId).thenApply(found -> {
      Project project = found.filter(p -> Access.seesProject(principal, p))
          .orElseThrow(() -> ProblemException.notFound("project " + projectId));
      if (!Access.spendsIn(principal, project)) {
        throw ProblemException.of(ProblemType.FORBIDDEN, "submitting jobs needs a member or admin key of the project");
      }
      return project;
    });
  }

  private static JobSpec spec(String jobId, Principal p, Project project, JobRequest r, long now, String idempotencyKey, String hash) {
    return new JobSpec(jobId, project.orgId(), project.teamId(), project.id(), p.keyId(), r.useCase(), r.models(),
        r.minQuality() == null ? 0 : r.minQuality(), r.ceilingPerMtok(), r.estimatedTokens(), now, r.deadline().toEpochMilli(),
        r.regions(), r.requiredTags(), r.providersAllowed(), r.providersDenied(), r.jobCategory(), r.spendClass(), r.tags(),
        idempotencyKey, hash);
  }

  /** Checks a request; the first problem found is thrown as 422 naming its field. */
  public void validate(JobRequest r, String idempotencyKey, long now) {
    if (r.useCase() == null || r.useCase().isBlank()) throw ProblemException.invalid("use_case", "a job needs a use case");
    if (!useCases.contains(r.useCase())) {
      throw ProblemException.invalid("use_case", "unknown use case '" + r.useCase() + "'; known: " + String.join(", ", new TreeSet<>(useCases)));
    }
    if (r.deadline() == null) throw ProblemException.invalid("deadline", "a job needs a deadline");
    long lead = r.deadline().toEpochMilli() - now;
    if (lead < settings.minLead().toMillis()) {
      throw ProblemException.invalid("deadline", "the deadline must be at least " + human(settings.minLead()) + " from now; it is "
          + (lead < 0 ? "in the past" : lead + " ms away"));
    }
    if (lead > settings.maxLead().toMillis()) {
      throw ProblemException.invalid("deadline", "the deadline must be within " + human(settings.maxLead()) + " from now");
    }
    if (r.ceilingPerMtok() <= 0 || r.ceilingPerMtok() > OrderBookCore.MAX_PRICE) {
      throw ProblemException.invalid("ceiling_usd_per_mtok", "the ceiling must be above 0 and at most $" + OrderBookCore.MAX_PRICE / 1_000_000
          + " per million tokens");
    }
    if (r.estimatedTokens() <= 0 || r.estimatedTokens() > BudgetLedger.MAX_TOKENS) {
      throw ProblemException.invalid("estimated_tokens", "estimated tokens must be above 0 and at most " + BudgetLedger.MAX_TOKENS);
    }
    if (Money.costMicroUsd(r.estimatedTokens(), r.ceilingPerMtok()) > BudgetLedger.MAX_AMOUNT_MICRO_USD) {
      throw ProblemException.invalid("estimated_tokens", "ceiling × estimated tokens is more than a budget can reserve");
    }
    if (r.minQuality() != null && (r.minQuality() < 0 || r.minQuality() > 100)) {
      throw ProblemException.invalid("min_quality", "minimum quality is 0 to 100");
    }
    checkSet("models", r.models());
    checkSet("constraints.regions", r.regions());
    checkSet("constraints.required_tags", r.requiredTags());
    checkSet("constraints.providers_allowed", r.providersAllowed());
    checkSet("constraints.providers_denied", r.providersDenied());
    if (r.spendClass() != null && !SPEND_CLASSES.contains(r.spendClass())) {
      throw ProblemException.invalid("spend_class", "spend class is capex or opex");
    }
    if (r.jobCategory() != null && (r.jobCategory().isBlank() || r.jobCategory().length() > 64)) {
      throw ProblemException.invalid("job_category", "a job category is 1 to 64 characters");
    }
    if (r.tags() != null) {
      if (r.tags().size() > MAX_TAGS) throw ProblemException.invalid("tags", "at most " + MAX_TAGS + " tags");
      for (Map.Entry<String, String> t : r.tags().entrySet()) {
        if (t.getKey() == null || t.getKey().isBlank() || t.getKey().length() > 64 || t.getValue() == null || t.getValue().length() > 256) {
          throw ProblemException.invalid("tags", "tag names are 1 to 64 characters and values at most 256");
        }
      }
    }
    if (r.backup() != null) {
      Backup b = r.backup();
      if (b.pricePerMtok() > r.ceilingPerMtok()) {
        throw ProblemException.invalid("backup.price_usd_per_mtok", "the backup's price must not be above the job's ceiling");
      }
    }
    if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > 255)) {
      throw ProblemException.invalid("Idempotency-Key", "an idempotency key is 1 to 255 characters");
    }
  }

  private static void checkSet(String field, Set<String> values) {
    if (values == null) return;
    if (values.size() > MAX_SET) throw ProblemException.invalid(field, "at most " + MAX_SET + " entries");
    for (String v : values) {
      if (v == null || v.isBlank() || v.length() > 200) throw ProblemException.invalid(field, "entries are 1 to 200 characters");
    }
  }

  private static String human(Duration d) {
    return d.toSeconds() >= 3600 && d.toSeconds() % 3600 == 0 ? d.toHours() + " h" : d.toSeconds() + " s";
  }

  /** An idempotency key names one job per organization; the id reveals nothing of the key. */
  static String jobIdFor(String orgId, String idempotencyKey) {
    byte[] digest = sha256(orgId + "\n" + idempotencyKey);
    char[] alphabet = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();
    StringBuilder id = new StringBuilder("job_");
    for (int i = 0; i < 16; i++) id.append(alphabet[(digest[i] & 0xff) % 32]);
    return id.toString();
  }

  /** A digest of the request in a canonical form (sorted sets and tags), for requests that did not come as text. */
  static String fingerprint(JobRequest r, String projectId) {
    String canonical = String.join("|", List.of(r.useCase(), String.valueOf(new TreeSet<>(r.models() == null ? Set.of() : r.models())),
        String.valueOf(r.minQuality()), String.valueOf(r.ceilingPerMtok()), String.valueOf(r.estimatedTokens()), String.valueOf(r.deadline()),
        String.valueOf(new TreeSet<>(r.regions() == null ? Set.of() : r.regions())),
        String.valueOf(new TreeSet<>(r.requiredTags() == null ? Set.of() : r.requiredTags())),
        String.valueOf(new TreeSet<>(r.providersAllowed() == null ? Set.of() : r.providersAllowed())),
        String.valueOf(new TreeSet<>(r.providersDenied() == null ? Set.of() : r.providersDenied())), projectId,
        String.valueOf(r.jobCategory()), String.valueOf(r.spendClass()), String.valueOf(new TreeMap<>(r.tags() == null ? Map.of() : r.tags())),
        String.valueOf(r.backup())));
    return digest(canonical);
  }

  /** The hex SHA-256 of a request's text: what an idempotency key is checked against. */
  public static String digest(String text) {
    return HexFormat.of().formatHex(sha256(text));
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
