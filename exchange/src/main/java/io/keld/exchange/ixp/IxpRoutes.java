package io.keld.exchange.ixp;

import static io.keld.ixp.Texts.clip;
import static io.keld.kit.JsonBodies.response;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.typesafe.config.Config;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobRequest;
import io.keld.exchange.jobs.JobStreams;
import io.keld.exchange.jobs.JobView;
import io.keld.exchange.jobs.Jobs;
import io.keld.flow.Operation;
import io.keld.kit.JsonBodies;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.kit.ProblemResponses;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.jobs.JobPage;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.ixp.jobs.QuoteResource;
import io.keld.ixp.jobs.WireMoney;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.Quote;
import io.keld.marketplace.entity.BookClient;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import io.keld.atlas.governance.Access;
import io.keld.ixp.Money;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;

/**
 * {@code /ixp/v1}: the Inference eXchange Protocol's control plane (submit, get, list, cancel,
 * follow, quote) and data plane (ndjson items in, ndjson results out) for an enterprise
 * organization's keys. The spec is {@code ixp/spec/ixp.openapi.yaml}.
 */
public final class IxpRoutes {

  /** Limits and timings of the protocol's HTTP side ({@code keld.ixp}). */
  public record Settings(int maxLineBytes, int maxItems, Duration heartbeat, int maxQuoteOptions) {

    /** Reads the {@code keld.ixp} section. */
    public static Settings fromConfig(Config c) {
      return new Settings(c.getInt("max-line-bytes"), c.getInt("max-items"), c.getDuration("heartbeat"), c.getInt("quote-options"));
    }
  }

  public static final ContentType NDJSON = ContentTypes.parse("application/x-ndjson");
  private static final int DEFAULT_PAGE = 50;
  private static final int MAX_PAGE = 200;

  private final Authenticator keys;
  private final Jobs jobs;
  private final JobIndex index;
  private final BookClient books;
  private final ItemUpload uploads;
  private final Settings settings;
  private final Clock clock;
  private final ActorSystem<?> system;

  public IxpRoutes(ActorSystem<?> system, Authenticator keys, Jobs jobs, JobStreams streams, JobIndex index, BookClient books,
      Settings settings, Clock clock) {
    this.keys = keys;
    this.jobs = jobs;
    this.index = index;
    this.books = books;
    this.settings = settings;
    this.clock = clock;
    this.system = system;
    this.uploads = new ItemUpload(streams, settings.maxLineBytes(), settings.maxItems(), Materializer.matFromSystem(system));
  }

  public Route route() {
    return pathPrefix("ixp", () -> pathPrefix("v1", () -> KeyAuthentication.authenticated(keys, p -> enterprise(p, () -> concat(
        pathPrefix("jobs", () -> concat(
            pathEnd(() -> concat(
                post(() -> submit(p)),
                get(() -> parameterMap(params -> list(p, params))))),
            pathPrefix(PathMatchers.segment(), jobId -> concat(
                pathEnd(() -> get(() -> onSuccess(visibleJob(p, jobId), job -> complete(ok(job))))),
                path("cancel", () -> post(() -> cancel(p, jobId))),
                path("events", () -> get(() -> events(p, jobId))),
                path("items", () -> post(() -> items(p, jobId))))))),
        path("quotes", () -> post(() -> quote(p))))))));
  }

  /** The protocol is for enterprises' jobs; providers trade on /trade/v1. */
  private static Route enterprise(Principal p, Supplier<Route> inner) {
    if (p.orgKind() != OrgKind.ENTERPRISE) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "jobs belong to enterprise organizations; this key is of a " + p.orgKind().wire() + " organization");
    }
    return inner.get();
  }

  // -- control plane ----------------------------------------------------------------------------

  private Route submit(Principal p) {
    return optionalHeaderValueByName("Idempotency-Key", idempotencyKey -> JsonBodies.bodyWithText(JobSubmission.class, (submission, text) -> {
      JobRequest request = Submissions.toRequest(submission, clock.instant());
      String key = idempotencyKey.orElse(null);
      return onSuccess(jobs.submit(p, request, key, key == null ? null : Jobs.digest(text)), reply -> {
        if (reply instanceof DeadlineJob.Accepted a) {
          JobResource job = JobResources.of(a.view());
          HttpResponse r = ok(job).withStatus(a.created() ? StatusCodes.CREATED : StatusCodes.OK);
          return complete(r.addHeader(Location.create(job.links().self())));
        }
        if (reply instanceof DeadlineJob.Refused refused) {
          Problem problem = refused.refusal().problem();
          if (refused.view() != null) problem = problem.with("job_id", refused.view().jobId());
          return complete(ProblemResponses.response(problem));
        }
        DeadlineJob.KeyConflict conflict = (DeadlineJob.KeyConflict) reply;
        return complete(ProblemResponses.response(Problem.of(ProblemType.CONFLICT,
            "the Idempotency-Key was used for another request (job " + conflict.jobId() + "); use a new key for a new job")
            .withField("Idempotency-Key").with("job_id", conflict.jobId())));
      });
    }));
  }

  private Route list(Principal p, Map<String, String> params) {
    for (String name : params.keySet()) {
      if (!List.of("state", "use_case", "project_id", "team_id", "realtime", "submitted_after", "submitted_before", "limit", "cursor").contains(name)) {
        throw ProblemException.invalid(name, "unknown query parameter '" + name + "'; known: state, use_case, project_id, team_id, realtime, "
            + "submitted_after, submitted_before, limit, cursor");
      }
    }
    int limit = DEFAULT_PAGE;
    if (params.containsKey("limit")) {
      try {
        limit = Integer.parseInt(params.get("limit"));
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_PAGE) throw ProblemException.invalid("limit", "limit is a whole number from 1 to " + MAX_PAGE);
    }
    Boolean realtime = null;
    if (params.containsKey("realtime")) {
      String v = params.get("realtime");
      if (!v.equals("true") && !v.equals("false")) throw ProblemException.invalid("realtime", "realtime is true or false");
      realtime = Boolean.valueOf(v);
    }
    String state = params.get("state");
    if (state != null && !List.of("admitted", "open", "matched", "running", "escalated", "completed", "cancelled", "failed", "deadline_missed")
        .contains(state)) {
      throw ProblemException.invalid("state", "unknown state '" + clip(state) + "'");
    }
    // A key scoped to a project or team lists only what it can see.
    String projectId = p.projectId() != null ? p.projectId() : params.get("project_id");
    if (p.projectId() != null && params.containsKey("project_id") && !params.get("project_id").equals(p.projectId())) {
      return complete(ok(new JobPage("list", List.of(), null)));
    }
    String teamId = p.teamId() != null ? p.teamId() : params.get("team_id");
    if (p.teamId() != null && params.containsKey("team_id") && !params.get("team_id").equals(p.teamId())) {
      return complete(ok(new JobPage("list", List.of(), null)));
    }
    JobIndex.Filter filter = new JobIndex.Filter(p.orgId(), projectId, teamId, state, params.get("use_case"), realtime,
        time("submitted_after", params.get("submitted_after")), time("submitted_before", params.get("submitted_before")));
    String cursor = params.get("cursor");
    CompletionStage<JobIndex.Page> page;
    try {
      page = index.list(filter, limit, cursor);
    } catch (IllegalArgumentException e) {
      throw ProblemException.invalid("cursor", e.getMessage());
    }
    return onSuccess(page, pg -> complete(ok(new JobPage("list", pg.jobs(), pg.nextCursor()))));
  }

  private Route cancel(Principal p, String jobId) {
    return onSuccess(visibleJob(p, jobId), job -> {
      spender(p, "cancelling a job");
      if (job.realtime() || JobResource.terminal(job.state())) {
        throw ProblemException.of(ProblemType.CONFLICT, "job " + jobId + " has ended (" + job.state() + "); there is nothing to cancel");
      }
      return onSuccess(jobs.cancel(jobId, "cancelled by key " + p.keyId()), reply -> {
        if (!reply.cancelled()) {
          throw ProblemException.of(ProblemType.CONFLICT, "job " + jobId + " has ended (" + reply.view().state() + "); there is nothing to cancel");
        }
        return complete(ok(JobResources.of(reply.view())));
      });
    });
  }

  /** Server-sent events: the job now and after every change, then {@code end} once it is over and settled. */
  private Route events(Principal p, String jobId) {
    return onSuccess(visibleJob(p, jobId), job -> {
      if (job.realtime()) {
        return completeOK(Source.from(List.of(event("job", job), event("end", job))), EventStreamMarshalling.toEventStream());
      }
      Pair<ActorRef<JobView>, Source<JobView, NotUsed>> follower = ActorSource.<JobView>actorRef(
              v -> false, v -> Optional.empty(), 256, OverflowStrategy.dropHead())
          .preMaterialize(Materializer.matFromSystem(system));
      ActorRef<JobView> ref = follower.first();
      jobs.follow(jobId, ref);
      Source<ServerSentEvent, NotUsed> events = follower.second()
          .map(JobResources::of)
          .takeWhile(r -> !(JobResource.terminal(r.state()) && r.settled()), true)
          .mapConcat(r -> JobResource.terminal(r.state()) && r.settled() ? List.of(event("job", r), event("end", r)) : List.of(event("job", r)))
          .keepAlive(settings.heartbeat(), ServerSentEvent::heartbeat)
          .watchTermination((mat, done) -> {
            done.whenComplete((d, failure) -> jobs.unfollow(jobId, ref));
            return mat;
          });
      return completeOK(events, EventStreamMarshalling.toEventStream());
    });
  }

  /** What the job would clear at now, and its fallbacks; nothing is committed and no budget is touched. */
  private Route quote(Principal p) {
    return JsonBodies.body(JobSubmission.class, submission -> {
      Instant now = clock.instant();
      JobRequest r = Submissions.toRequest(submission, now);
      jobs.validate(r, null, now.toEpochMilli());
      CompletionStage<Optional<Backup>> backup = r.backup() != null ? CompletableFuture.completedFuture(Optional.of(r.backup()))
          : (r.projectId() != null || p.projectId() != null)
              ? jobs.spendableProject(p, r.projectId()).thenCompose(prj -> jobs.backups().forProject(prj.id()))
              : CompletableFuture.completedFuture(jobs.settings().operatorBackup());
      return onSuccess(backup, b -> {
        Backup eligible = b.filter(x -> x.pricePerMtok() <= r.ceilingPerMtok()).orElse(null);
        long deadline = r.deadline().toEpochMilli();
        long escalateAt = jobs.escalationPoint(deadline, r.estimatedTokens(), eligible);
        Bid bid = new Bid("quote", r.useCase(), r.models(), r.minQuality() == null ? 0 : r.minQuality(), r.ceilingPerMtok(),
            r.estimatedTokens(), deadline, escalateAt, r.regions(), r.requiredTags(), r.providersAllowed(), r.providersDenied());
        return onSuccess(books.quote(r.useCase(), bid, settings.maxQuoteOptions()), q -> complete(ok(quoteOf(q, r, eligible, escalateAt))));
      });
    });
  }

  private static QuoteResource quoteOf(Quote q, JobRequest r, Backup backup, long escalateAt) {
    List<QuoteResource.Option> options = q.options().stream().map(o -> new QuoteResource.Option(o.providerId(), o.model(),
        WireMoney.usd(o.pricePerMtok()), o.quality(), Instant.ofEpochMilli(o.startMillis()), Instant.ofEpochMilli(o.finishMillis()),
        Money.costMicroUsd(r.estimatedTokens(), o.pricePerMtok()))).toList();
    return new QuoteResource("quote", r.useCase(), Instant.ofEpochMilli(q.atMillis()), r.deadline(), r.estimatedTokens(), q.feasibleAsks(),
        options.isEmpty() ? null : options.get(0), options.size() > 1 ? options.subList(1, options.size()) : List.of(),
        JobResources.backup(backup), Instant.ofEpochMilli(escalateAt));
  }

  // -- data plane -------------------------------------------------------------------------------

  /**
   * The result lines' format: {@code ?format=openai} or an {@code Accept} naming
   * {@code profile=openai-batch} asks for OpenAI Batch output lines; {@code keld} (the default) for Keld's.
   */
  private static ItemUpload.Format resultFormat(Optional<String> query, Optional<String> accept) {
    if (query.isPresent()) {
      return switch (query.get()) {
        case "keld" -> ItemUpload.Format.KELD;
        case "openai" -> ItemUpload.Format.OPENAI;
        default -> throw ProblemException.invalid("format", "format is keld (Keld's result lines) or openai (OpenAI Batch output lines)");
      };
    }
    return accept.filter(a -> a.contains("openai-batch")).isPresent() ? ItemUpload.Format.OPENAI : ItemUpload.Format.KELD;
  }

  /** A job's operation follows from its use case: embed runs embeddings, every other use case chat completions. */
  static Operation operationOf(String useCase) {
    return "embed".equals(useCase) ? Operation.EMBEDDINGS : Operation.CHAT_COMPLETIONS;
  }

  private Route items(Principal p, String jobId) {
    return parameterOptional("format", formatParam -> optionalHeaderValueByName("Accept", accept -> items(p, jobId,
        resultFormat(formatParam, accept))));
  }

  private Route items(Principal p, String jobId, ItemUpload.Format format) {
    return extractRequestEntity(entity -> {
      String media = entity.getContentType().mediaType().toString();
      if (!media.equals("application/x-ndjson") && !media.equals("application/jsonl") && !media.equals("application/json-lines")) {
        throw ProblemException.of(ProblemType.UNSUPPORTED_MEDIA_TYPE,
            "items are sent as application/x-ndjson: one {\"custom_id\", \"body\"} object per line; got " + media);
      }
      return onSuccess(visibleJob(p, jobId), job -> {
        spender(p, "sending a job's items");
        if (job.realtime() || JobResource.terminal(job.state())) {
          entity.discardBytes(Materializer.matFromSystem(system));
          throw ProblemException.of(ProblemType.CONFLICT, "job " + jobId + " has ended (" + job.state() + "); it takes no more items");
        }
        return complete(HttpResponse.create().withEntity(
            HttpEntities.createChunked(NDJSON, uploads.run(jobId, operationOf(job.useCase()), format, entity.withoutSizeLimit().getDataBytes()))));
      });
    });
  }

  // -- helpers ----------------------------------------------------------------------------------

  /** What spends (items, cancel) needs a member or admin key; a read-only key reads. */
  private static void spender(Principal p, String what) {
    if (!Access.spends(p)) {
      throw ProblemException.of(ProblemType.FORBIDDEN, what + " needs a member or admin key; this key is " + p.role().wire());
    }
  }

  /** The job as this key may see it: its organization's, and within its project or team if the key is scoped; else 404. */
  private CompletionStage<JobResource> visibleJob(Principal p, String jobId) {
    if (!Jobs.plausibleId(jobId)) return CompletableFuture.failedFuture(ProblemException.notFound("job " + clip(jobId)));
    return index.get(jobId).thenCompose(row -> {
      if (row.isPresent() && row.get().realtime()) return CompletableFuture.completedFuture(Optional.of(row.get().resource()));
      return jobs.get(jobId).thenApply(v -> v.map(JobResources::of).or(() -> row.map(JobIndex.Row::resource)));
    }).thenApply(found -> found.filter(j -> j.organizationId().equals(p.orgId())
            && (p.projectId() == null || p.projectId().equals(j.projectId()))
            && (p.teamId() == null || p.teamId().equals(j.teamId())))
        .orElseThrow(() -> ProblemException.notFound("job " + clip(jobId))));
  }

  private static Instant time(String field, String text) {
    if (text == null) return null;
    Instant at;
    try {
      at = OffsetDateTime.parse(text).toInstant();
    } catch (DateTimeParseException e) {
      throw ProblemException.invalid(field, field + " is an RFC 3339 time such as 2026-11-21T18:00:00Z");
    }
    if (at.isBefore(Instant.EPOCH) || at.isAfter(Instant.ofEpochMilli(JobIndex.LATEST_MILLIS))) {
      throw ProblemException.invalid(field, field + " must be between 1970 and 9999");
    }
    return at;
  }

  private static ServerSentEvent event(String type, JobResource job) {
    try {
      return ServerSentEvent.create(JsonBodies.MAPPER.writeValueAsString(job), type);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a job resource always serializes", e);
    }
  }

  private static HttpResponse ok(Object body) {
    return response(StatusCodes.OK, body);
  }


}
