package io.keld.exchange.edge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.ixp.RealtimeJob;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.JobStreams;
import io.keld.kit.Json;
import io.keld.kit.ProblemResponses;
import io.keld.flow.Operation;
import io.keld.flow.Route;
import io.keld.flow.Usage;
import io.keld.flow.client.Forwarded;
import io.keld.flow.client.ProviderClient;
import io.keld.ixp.Ids;
import io.keld.ixp.Money;
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
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * The real-time path of the OpenAI edge: a one-item request with a near deadline, served without
 * waiting on any database write. It quotes from the node-local book replica, takes a hold on a
 * node-local budget lease, forwards the request straight to the chosen provider through Flow's
 * provider client (streams pass through as they come), and on the answer releases the hold at the
 * actual cost and hands the job's record and usage to the job index's next batch.
 *
 * <p>A provider that fails (429, 5xx, no connection) is replaced by the next feasible ask once;
 * the operator's backup is the last resort when the book has nothing under the ceiling.
 */
final class RealtimePath {

  private static final ObjectMapper JSON = Json.PLAIN;
  private static final int OPTIONS = 3;

  private final LocalBooks localBooks;
  private final BudgetLeases leases;
  private final JobIndex index;
  private final JobStreams.RouteResolver routes;
  private final Optional<Backup> operatorBackup;
  private final ProviderClient providers;
  private final Clock clock;

  RealtimePath(LocalBooks localBooks, BudgetLeases leases, JobIndex index, JobStreams.RouteResolver routes, Optional<Backup> operatorBackup,
      ProviderClient providers, Clock clock) {
    this.localBooks = localBooks;
    this.leases = leases;
    this.index = index;
    this.routes = routes;
    this.operatorBackup = operatorBackup;
    this.providers = providers;
    this.clock = clock;
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
          Throwable cause = ProblemResponses.cause(failure);
          if (cause instanceof BudgetLeases.Refused r) {
            throw OpenAiError.insufficientQuota("Your project's budget refused this request: " + r.refusal.problem().detail());
          }
          throw cause instanceof RuntimeException re ? re : new CompletionException(cause);
        })
        .thenCompose(hold -> forward(call, jobId, choices, hold));
  }

  /** Forwards to the choices in order through Flow's provider client, and answers with what came back. */
  private CompletionStage<HttpResponse> forward(EdgeCall call, String jobId, List<Choice> choices, BudgetLeases.Hold hold) {
    List<Supplier<CompletionStage<Route>>> candidates = new ArrayList<>(choices.size());
    for (Choice choice : choices) candidates.add(() -> routes.resolve(choice.providerId(), choice.model()));
    Duration untilDeadline = Duration.between(clock.instant(), call.deadline());
    return providers.forward(call.operation(), call.body(), call.bodyBytes(), call.stream(), candidates, untilDeadline)
        .thenApply(forwarded -> finish(call, jobId, choices.get(forwarded.route()), hold, forwarded));
  }

  /** Pass the provider's answer on with Keld's headers, and account for it when it is complete. */
  private HttpResponse finish(EdgeCall call, String jobId, Choice choice, BudgetLeases.Hold hold, Forwarded forwarded) {
    if (forwarded instanceof Forwarded.DeadlinePassed) {
      hold.release(0, 0);
      record(call, jobId, choice, 0, 0, "deadline_missed", "the deadline passed before a provider answered");
      throw new OpenAiError(504, "server_error", "deadline_exceeded", null,
          "No provider answered before the request's deadline (" + call.deadline() + ").", true);
    }
    if (forwarded instanceof Forwarded.Unreachable unreachable) {
      hold.release(0, 0);
      record(call, jobId, choice, 0, 0, "failed", "provider_unreachable");
      throw OpenAiError.provider(502, "The provider " + choice.providerId() + " could not be reached: " + unreachable.reason());
    }
    if (forwarded instanceof Forwarded.BrokeOff brokeOff) {
      hold.release(0, 0);
      record(call, jobId, choice, 0, 0, "failed", "answer_broken");
      throw OpenAiError.provider(502, "The provider's answer broke off: " + brokeOff.reason());
    }
    List<HttpHeader> keld = List.of(
        RawHeader.create("X-Keld-Job-Id", jobId),
        RawHeader.create("X-Keld-Provider", choice.providerId()),
        RawHeader.create("X-Keld-Price", WireMoney.usd(choice.pricePerMtok()).toPlainString()),
        RawHeader.create("X-Keld-Path", "realtime"));
    if (forwarded instanceof Forwarded.Streaming streaming) {
      streaming.usage().thenAccept(end -> {
        // A provider that sent no usage chunk is charged the estimate in, a token per chunk out.
        long in = end.usage().map(Usage::inputTokens).orElse(call.estimatedTokens());
        long out = end.usage().map(Usage::outputTokens).orElse(end.dataChunks());
        hold.release(Money.costMicroUsd(in + out, choice.pricePerMtok()), in + out);
        record(call, jobId, choice, in, out, end.brokeOff() ? "failed" : "completed", end.brokeOff() ? "stream_broken" : null);
      });
      return HttpResponse.create().withStatus(StatusCodes.OK).withHeaders(keld)
          .withEntity(HttpEntities.createChunked(streaming.contentType(), streaming.body()));
    }
    Forwarded.Answered answered = (Forwarded.Answered) forwarded;
    byte[] data = answered.body();
    if (!answered.status().isSuccess()) {
      hold.release(0, 0);
      record(call, jobId, choice, 0, 0, "failed", "provider_status_" + answered.status().intValue());
      // The provider's own error (an OpenAI-shaped body, usually) goes back as it came.
      return HttpResponse.create().withStatus(answered.status()).withHeaders(keld)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, data));
    }
    // An answer without usage (or not JSON at all) is charged at the estimate.
    long in = answered.usage().map(Usage::inputTokens).orElse(call.estimatedTokens());
    long out = answered.usage().map(Usage::outputTokens).orElse(0L);
    if (call.operation() == Operation.EMBEDDINGS && "base64".equals(call.body().path("encoding_format").asText(null))) {
      try {
        data = asBase64Embeddings(JSON.readTree(data));
      } catch (Exception notJson) {
        // passed on as it is
      }
    }
    hold.release(Money.costMicroUsd(in + out, choice.pricePerMtok()), in + out);
    record(call, jobId, choice, in, out, "completed", null);
    return HttpResponse.create().withStatus(answered.status()).withHeaders(keld)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, data));
  }

  /**
   * OpenAI's SDKs ask for embeddings as base64 (little-endian float32) by default; a provider that
   * answered with float arrays anyway gets its vectors encoded here.
   */
  static byte[] asBase64Embeddings(JsonNode json) throws JsonProcessingException {
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
    RealtimeJob job = new RealtimeJob(jobId, call.project().orgId(), call.project().teamId(), call.project().id(), call.useCase(), state, reason,
        call.models(), call.ceilingPerMtok(), call.estimatedTokens(), call.receivedAt(), call.deadline(), ended, choice.kind(),
        choice.providerId(), choice.model(), choice.pricePerMtok(), in, out, cost);
    index.recordRealtime(job);
  }
}
