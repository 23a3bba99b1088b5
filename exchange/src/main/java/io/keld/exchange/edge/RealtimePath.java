package io.keld.exchange.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.ixp.JobResources;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.JobStreams;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.flow.Operation;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.ixp.Ids;
import io.keld.ixp.Money;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.WireMoney;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.Quote;
import io.keld.marketplace.entity.LocalBooks;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.ConnectHttp;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.util.ByteString;

/**
 * The real-time path of the OpenAI edge: a one-item request with a near deadline, served without
 * waiting on any database write. It quotes from the node-local book replica, takes a hold on a
 * node-local budget lease, forwards the request straight to the chosen provider (streams pass
 * through as they come), and on the answer releases the hold at the actual cost and hands the
 * job's record and usage to the job index's next batch.
 *
 * <p>A provider that fails (429, 5xx, no connection) is replaced by the next feasible ask once;
 * the operator's backup is the last resort when the book has nothing under the ceiling.
 */
final class RealtimePath {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int OPTIONS = 3;

  private final LocalBooks localBooks;
  private final BudgetLeases leases;
  private final JobIndex index;
  private final JobStreams.RouteResolver routes;
  private final Optional<Backup> operatorBackup;
  private final Clock clock;
  private final Http http;
  private final ConnectionPoolSettings pool;
  private final Materializer materializer;
  private final org.apache.pekko.event.LoggingAdapter log;

  RealtimePath(ActorSystem<?> system, LocalBooks localBooks, BudgetLeases leases, JobIndex index, JobStreams.RouteResolver routes,
      Optional<Backup> operatorBackup, int maxConnectionsPerProvider, Clock clock) {
    this.localBooks = localBooks;
    this.leases = leases;
    this.index = index;
    this.routes = routes;
    this.operatorBackup = operatorBackup;
    this.clock = clock;
    this.http = Http.get(system);
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(maxConnectionsPerProvider)
        .withMaxOpenRequests(Integer.highestOneBit(Math.max(2, maxConnectionsPerProvider) * 8 - 1) << 1)
        .withMaxRetries(0);
    this.materializer = Materializer.matFromSystem(system);
    this.log = system.classicSystem().log();
  }

  /** A provider the request may go to, in the order to try them. */
  record Choice(String providerId, String model, long pricePerMtok, String kind) {}

  /** The providers to try: the best feasible asks on the local replica, then the operator's backup. */
  List<Choice> choices(EdgeCall call) {
    Bid bid = new Bid("rt", call.useCase(), call.models(), 0, call.ceilingPerMtok(), call.estimatedTokens(), call.deadline().toEpochMilli(),
        call.deadline().toEpochMilli(), null, null, null, null);
    List<Choice> out = new ArrayList<>();
    Optional<Quote> quote = localBooks.quote(call.useCase(), bid, OPTIONS);
    quote.ifPresent(q -> q.options().forEach(o -> out.add(new Choice(o.providerId(), o.model(), o.pricePerMtok(), "fill"))));
    operatorBackup.filter(b -> b.pricePerMtok() <= call.ceilingPerMtok() && (call.models().isEmpty() || call.models().contains(b.model())))
        .ifPresent(b -> out.add(new Choice(b.providerId(), b.model(), b.pricePerMtok(), "backup")));
    return out;
  }

  CompletionStage<HttpResponse> run(EdgeCall call) {
    List<Choice> choices = choices(call);
    if (choices.isEmpty()) {
      throw OpenAiError.noCapacity("No provider on the '" + call.useCase() + "' book can serve " + call.requestedModel() + " under $"
          + WireMoney.usd(call.ceilingPerMtok()).toPlainString() + " per million tokens by " + call.deadline()
          + ". Raise X-Keld-Ceiling, allow a later X-Keld-Deadline, or try again shortly.");
    }
    long holdAmount = Money.costMicroUsd(call.estimatedTokens(), call.ceilingPerMtok());
    String jobId = Ids.next("job");
    return leases.hold(call.project().teamId(), call.project().id(), holdAmount, call.estimatedTokens())
        .exceptionally(failure -> {
          Throwable cause = io.keld.kit.ProblemResponses.cause(failure);
          if (cause instanceof BudgetLeases.Refused r) {
            throw OpenAiError.insufficientQuota("Your project's budget refused this request: " + r.refusal.problem().detail());
          }
          throw cause instanceof RuntimeException re ? re : new java.util.concurrent.CompletionException(cause);
        })
        .thenCompose(hold -> attempt(call, jobId, choices, 0, hold));
  }

  private CompletionStage<HttpResponse> attempt(EdgeCall call, String jobId, List<Choice> choices, int at, BudgetLeases.Hold hold) {
    Choice choice = choices.get(at);
    long left = Duration.between(clock.instant(), call.deadline()).toMillis();
    if (left <= 0) {
      hold.release(0, 0);
      record(call, jobId, choice, 0, 0, "deadline_missed", "the deadline passed before a provider answered");
      return CompletableFuture.failedFuture(new OpenAiError(504, "server_error", "deadline_exceeded", null,
          "No provider answered before the request's deadline (" + call.deadline() + ").", true));
    }
    return routes.resolve(choice.providerId(), choice.model()).thenCompose(route -> send(route.endpoint(), choice, call, left))
        .handle((response, failure) -> {
          boolean retry = failure != null || response.status().intValue() == 429 || response.status().intValue() >= 500;
          if (retry && at + 1 < choices.size()) {
            if (response != null) response.discardEntityBytes(materializer);
            return attempt(call, jobId, choices, at + 1, hold);
          }
          if (failure != null) {
            hold.release(0, 0);
            record(call, jobId, choice, 0, 0, "failed", "provider_unreachable");
            return CompletableFuture.<HttpResponse>failedFuture(OpenAiError.provider(502,
                "The provider " + choice.providerId() + " could not be reached: " + rootMessage(failure)));
          }
          return finish(call, jobId, choice, hold, response);
        }).thenCompose(x -> x);
  }

  private CompletionStage<HttpResponse> send(ProviderEndpoint endpoint, Choice choice, EdgeCall call, long timeoutMillis) {
    ObjectNode body = call.body().deepCopy();
    body.put("model", choice.model());
    if (call.stream()) {
      // The edge settles on the provider's usage, so it always asks for the usage chunk.
      JsonNode opts = body.get("stream_options");
      ObjectNode o = opts instanceof ObjectNode on ? on : body.putObject("stream_options");
      o.put("include_usage", true);
    }
    HttpRequest request = HttpRequest.POST(endpoint.baseUrl() + call.operation().path())
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
    if (endpoint.credential() != null) request = request.addHeader(Authorization.create(HttpCredentials.createOAuth2BearerToken(endpoint.credential())));
    return http.singleRequest(request, http.defaultClientHttpsContext(), pool, log)
        .toCompletableFuture().orTimeout(timeoutMillis, TimeUnit.MILLISECONDS);
  }

  /** The provider answered: pass it on with Keld's headers, and account for it when it is complete. */
  private CompletionStage<HttpResponse> finish(EdgeCall call, String jobId, Choice choice, BudgetLeases.Hold hold, HttpResponse response) {
    List<org.apache.pekko.http.javadsl.model.HttpHeader> keld = List.of(
        RawHeader.create("X-Keld-Job-Id", jobId),
        RawHeader.create("X-Keld-Provider", choice.providerId()),
        RawHeader.create("X-Keld-Price", WireMoney.usd(choice.pricePerMtok()).toPlainString()),
        RawHeader.create("X-Keld-Path", "realtime"));
    boolean ok = response.status().isSuccess();
    if (ok && call.stream()) {
      SseUsage usage = new SseUsage();
      var bytes = response.entity().getDataBytes()
          .map(b -> {
            usage.feed(b);
            return b;
          })
          .watchTermination((mat, done) -> {
            done.whenComplete((d, failure) -> {
              long in = usage.inputTokens(call.estimatedTokens());
              long out = usage.outputTokens();
              long cost = Money.costMicroUsd(in + out, choice.pricePerMtok());
              hold.release(cost, in + out);
              record(call, jobId, choice, in, out, failure == null ? "completed" : "failed", failure == null ? null : "stream_broken");
            });
            return mat;
          });
      return CompletableFuture.completedFuture(HttpResponse.create().withStatus(StatusCodes.OK).withHeaders(keld)
          .withEntity(HttpEntities.createChunked(response.entity().getContentType(), bytes)));
    }
    long left = Math.max(1, Duration.between(clock.instant(), call.deadline()).toMillis());
    return response.entity().toStrict(left, materializer).handle((strict, failure) -> {
      if (failure != null) {
        hold.release(0, 0);
        record(call, jobId, choice, 0, 0, "failed", "answer_broken");
        throw OpenAiError.provider(502, "The provider's answer broke off: " + rootMessage(failure));
      }
      byte[] data = strict.getData().toArray();
      if (!ok) {
        hold.release(0, 0);
        record(call, jobId, choice, 0, 0, "failed", "provider_status_" + response.status().intValue());
        // The provider's own error (an OpenAI-shaped body, usually) goes back as it came.
        return HttpResponse.create().withStatus(response.status()).withHeaders(keld)
            .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, data));
      }
      long in = call.estimatedTokens();
      long out = 0;
      try {
        JsonNode json = JSON.readTree(data);
        JsonNode u = json.path("usage");
        in = u.path("prompt_tokens").asLong(in);
        out = u.path("completion_tokens").asLong(0);
        if (call.operation() == Operation.EMBEDDINGS && "base64".equals(call.body().path("encoding_format").asText(null))) {
          data = asBase64Embeddings(json);
        }
      } catch (Exception notJson) {
        // passed on as it is; charged at the estimate
      }
      long cost = Money.costMicroUsd(in + out, choice.pricePerMtok());
      hold.release(cost, in + out);
      record(call, jobId, choice, in, out, "completed", null);
      return HttpResponse.create().withStatus(response.status()).withHeaders(keld)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, data));
    });
  }

  /**
   * OpenAI's SDKs ask for embeddings as base64 (little-endian float32) by default; a provider that
   * answered with float arrays anyway gets its vectors encoded here.
   */
  static byte[] asBase64Embeddings(JsonNode json) throws com.fasterxml.jackson.core.JsonProcessingException {
    for (JsonNode d : json.path("data")) {
      JsonNode e = d.path("embedding");
      if (e.isArray() && d instanceof ObjectNode od) {
        ByteBuffer buf = ByteBuffer.allocate(e.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode v : (ArrayNode) e) buf.putFloat((float) v.asDouble());
        od.put("embedding", Base64.getEncoder().encodeToString(buf.array()));
      }
    }
    return JSON.writeValueAsBytes(json);
  }

  /** The job's record and usage, for the index's next batch: no request waits on this write. */
  private void record(EdgeCall call, String jobId, Choice choice, long in, long out, String state, String reason) {
    Instant ended = clock.instant();
    long cost = Money.costMicroUsd(in + out, choice.pricePerMtok());
    boolean answered = state.equals("completed");
    JobResource.Leg leg = new JobResource.Leg(1, choice.kind(), choice.providerId(), choice.model(), WireMoney.usd(choice.pricePerMtok()),
        call.receivedAt(), call.deadline(), answered ? 1 : 0, answered ? 0 : 1, in, out, cost);
    List<JobResource.TimelineEntry> timeline = List.of(
        new JobResource.TimelineEntry(call.receivedAt(), "admitted", "admitted", null),
        new JobResource.TimelineEntry(call.receivedAt(), "running", "started", null),
        new JobResource.TimelineEntry(ended, state, state, reason));
    JobResource r = new JobResource(jobId, "job", true, state, reason, null, call.useCase(), call.models(), 0,
        WireMoney.usd(call.ceilingPerMtok()), call.estimatedTokens(), call.receivedAt(), call.deadline(), null, call.project().orgId(),
        call.project().teamId(), call.project().id(), null, null, Map.of(), null, leg, List.of(leg),
        new JobResource.Progress(answered ? 1 : 0, answered ? 0 : 1, 0, in, out), cost, 0, true, 0, 0, timeline, JobResources.links(jobId));
    JobUsageStore.UsageRecord usage = new JobUsageStore.UsageRecord(jobId, 1, call.project().orgId(), call.project().teamId(),
        call.project().id(), call.useCase(), choice.providerId(), choice.model(), "realtime", null, null, "{}", state, 1, answered ? 0 : 1,
        in, out, choice.pricePerMtok(), cost, call.receivedAt(), ended);
    index.recordRealtime(r, usage);
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) c = c.getCause();
    if (c instanceof java.util.concurrent.TimeoutException) return "no answer in time";
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }
}
