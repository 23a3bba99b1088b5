package io.keld.exchange.edge;

import static io.keld.ixp.Texts.clip;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.keld.atlas.budget.BudgetLedger;
import io.keld.atlas.governance.Access;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobRequest;
import io.keld.exchange.jobs.JobStreams;
import io.keld.exchange.jobs.JobView;
import io.keld.exchange.jobs.Jobs;
import io.keld.atlas.keys.CachingAuthenticator;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.kit.CacheSettings;
import io.keld.kit.Json;
import io.keld.kit.KeyAuthentication;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.flow.Operation;
import io.keld.flow.client.ProviderClient;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.jobs.Deadlines;
import io.keld.ixp.jobs.WireMoney;
import io.keld.marketplace.book.Quote;
import io.keld.marketplace.entity.LocalBooks;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import io.keld.atlas.budget.BudgetClient;
import io.keld.exchange.ixp.JobIndex;
import io.keld.kit.JsonBodies;
import java.time.temporal.ChronoUnit;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.server.Directives;

/**
 * The OpenAI-compatible edge: {@code POST /v1/chat/completions} (with {@code stream}),
 * {@code POST /v1/embeddings} and {@code GET /v1/models}, so the OpenAI SDKs, LiteLLM or LangChain
 * work by changing their base URL to Keld's. Every request is a one-item job of the key's project;
 * its deadline, ceiling and use case come from {@code X-Keld-*} headers, else the project's defaults,
 * else the node's. A deadline within {@code realtimeMaxLead} takes the real-time path
 * ({@link RealtimePath}); a later one runs as a deadline job. Errors come in OpenAI's shape.
 */
public final class OpenAiRoutes {

  /**
   * The edge's settings ({@code keld.edge}).
   *
   * @param defaultDeadline        a request's deadline when neither header nor project names one
   * @param defaultCeilingPerMtok  its ceiling likewise, micro-USD per million tokens
   * @param realtimeMaxLead        requests due within this take the real-time path
   * @param minLead                the nearest deadline a request may ask for
   * @param maxBodyBytes           the largest request body read
   */
  public record Settings(Duration defaultDeadline, long defaultCeilingPerMtok, Duration realtimeMaxLead, Duration minLead,
      long leaseChunkMicroUsd, long leaseChunkTokens, Duration leaseMaxAge, long maxBodyBytes, CacheSettings keyCache) {

    /** Reads the {@code keld.edge} section (its {@code book-replica-resync-when-quiet} is the node-local books', not the routes'). */
    public static Settings fromConfig(Config c) {
      return new Settings(c.getDuration("default-deadline"), WireMoney.microUsd(new BigDecimal(c.getString("default-ceiling-usd-per-mtok"))),
          c.getDuration("realtime-max-lead"), c.getDuration("min-lead"), WireMoney.microUsd(new BigDecimal(c.getString("lease-chunk-usd"))),
          c.getLong("lease-chunk-tokens"), c.getDuration("lease-max-age"), c.getBytes("max-body-bytes"), CacheSettings.of(c, "key"));
    }
  }

  private static final ObjectMapper JSON = Json.PLAIN;
  /** What a project id can look like; anything else names no project and is not looked up. */
  private static final Pattern PROJECT_ID = Pattern.compile("prj_[0-9a-z]{16}");
  /** A body is one JSON value: anything after it is refused. */
  private static final ObjectReader STRICT = JSON.reader()
      .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final Map<Operation, String> DEFAULT_USE_CASE = Map.of(Operation.CHAT_COMPLETIONS, "chat", Operation.EMBEDDINGS, "embed");

  private final Authenticator keys;
  private final TenancyStore tenancy;
  private final Jobs jobs;
  private final JobStreams streams;
  private final LocalBooks localBooks;
  private final EdgeDefaults defaults;
  private final RealtimePath realtime;
  private final Settings settings;
  private final Clock clock;
  private final Materializer materializer;
  private final long createdEpochSeconds;

  public OpenAiRoutes(ActorSystem<?> system, Authenticator keys, TenancyStore tenancy, Jobs jobs, JobStreams streams,
      JobIndex index, LocalBooks localBooks, BudgetClient budgets, EdgeDefaults defaults,
      JobStreams.RouteResolver routes, ProviderClient providers, Settings settings, Clock clock) {
    this.keys = new CachingAuthenticator(keys, settings.keyCache());
    this.tenancy = tenancy;
    this.jobs = jobs;
    this.streams = streams;
    this.localBooks = localBooks;
    this.defaults = defaults;
    this.settings = settings;
    this.clock = clock;
    this.materializer = Materializer.matFromSystem(system);
    this.createdEpochSeconds = clock.instant().getEpochSecond();
    BudgetLeases leases = new BudgetLeases(system, budgets, settings.leaseChunkMicroUsd(), settings.leaseChunkTokens(), settings.leaseMaxAge());
    this.realtime = new RealtimePath(localBooks, leases, index, routes, jobs.settings().operatorBackup(), providers, clock);
  }

  public Route route() {
    return pathPrefix("v1", () -> handleExceptions(OpenAiError.exceptionHandler(), () -> handleRejections(OpenAiError.rejectionHandler(),
        () -> authenticated(p -> concat(
            path(PathMatchers.segment("chat").slash("completions"), () -> post(() -> call(p, Operation.CHAT_COMPLETIONS))),
            path("embeddings", () -> post(() -> call(p, Operation.EMBEDDINGS))),
            pathPrefix("models", () -> concat(
                pathEnd(() -> get(() -> complete(json(models())))),
                path(PathMatchers.remaining(), id -> get(() -> model(id))))))))));
  }

  private Route authenticated(Function<Principal, Route> inner) {
    return extractRequest(request -> {
      Optional<String> key = KeyAuthentication.presentedKey(request.getHeader("Authorization"), request.getHeader("X-Api-Key"));
      if (key.isEmpty()) {
        throw new OpenAiError(401, "authentication_error", "invalid_api_key", null,
            "You didn't provide an API key. Send your Keld key as 'Authorization: Bearer keld_…'.", false);
      }
      return onSuccess(keys.authenticate(key.get()), principal -> principal.map(p -> {
        if (p.orgKind() != OrgKind.ENTERPRISE) {
          throw new OpenAiError(403, "permission_error", "wrong_organization_kind", null,
              "Inference requests are made with an enterprise organization's key; this key is of a " + p.orgKind().wire() + " organization.", false);
        }
        return inner.apply(p);
      }).orElseThrow(() -> new OpenAiError(401, "authentication_error", "invalid_api_key", null,
          "Incorrect API key provided: the key is unknown or revoked.", false)));
    });
  }

  // -- inference --------------------------------------------------------------------------------

  private Route call(Principal p, Operation operation) {
    return JsonBodies.refuseOversized(settings.maxBodyBytes(), () -> new OpenAiError(400, "invalid_request_error", "request_too_large",
        null, "The request body is larger than " + settings.maxBodyBytes() + " bytes.", false).response(),
        () -> extractRequest(request -> entity(Unmarshaller.entityToByteArray(), bytes -> {
      // Milliseconds, as every job's times are: list cursors order by them.
      Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
      ObjectNode body = parseBody(bytes, operation);
      return onSuccess(resolve(p, request, operation, body, bytes, now), call -> {
        Duration lead = Duration.between(now, call.deadline());
        boolean realtimePath = lead.compareTo(settings.realtimeMaxLead()) <= 0;
        // The answer may take until the deadline: the server's usual request timeout does not apply.
        // completeWithFuture goes on from the answer on the thread that completes it. Pekko's Java
        // onSuccess would first hand a stage that completes later to Scala's global pool (a `recover`
        // there): one more thread woken a request (edge-peers: 9.2 -> 7.3 context switches a request).
        return withRequestTimeout(lead.plusSeconds(5), () -> completeWithFuture(realtimePath ? realtime.run(call) : asJob(call)));
      });
    })));
  }

  private Route complete(HttpResponse r) {
    return Directives.complete(r);
  }

  /** The body parsed once, from its bytes, and checked; the bytes themselves are what a provider is sent when nothing in them changes. */
  private static ObjectNode parseBody(byte[] bytes, Operation operation) {
    JsonNode node;
    try {
      node = STRICT.readTree(bytes);
    } catch (Exception e) {
      throw OpenAiError.invalid(null, "We could not parse the JSON body of your request. Send a JSON object.");
    }
    if (node == null || !node.isObject()) throw OpenAiError.invalid(null, "The request body must be a JSON object.");
    ObjectNode body = (ObjectNode) node;
    JsonNode model = body.get("model");
    if (model == null || !model.isTextual() || model.asText().isBlank()) {
      throw OpenAiError.invalid("model", "You must provide a model parameter: a model name, or keld/<use-case>.");
    }
    if (operation == Operation.CHAT_COMPLETIONS) {
      JsonNode messages = body.get("messages");
      if (messages == null || !messages.isArray() || messages.isEmpty()) {
        throw OpenAiError.invalid("messages", "'messages' must be a non-empty array of {role, content} objects.");
      }
      for (JsonNode m : messages) {
        if (!m.isObject() || !m.path("role").isTextual()) throw OpenAiError.invalid("messages", "Each message is an object with a 'role'.");
      }
      for (String f : List.of("max_tokens", "max_completion_tokens")) {
        JsonNode v = body.get(f);
        if (v != null && !v.isNull() && (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 1 || v.asLong() > BudgetLedger.MAX_TOKENS)) {
          throw OpenAiError.invalid(f, "'" + f + "' must be a whole number from 1 to " + BudgetLedger.MAX_TOKENS + ".");
        }
      }
      JsonNode stream = body.get("stream");
      if (stream != null && !stream.isNull() && !stream.isBoolean()) throw OpenAiError.invalid("stream", "'stream' must be true or false.");
    } else {
      JsonNode input = body.get("input");
      boolean ok = input != null && (input.isTextual() || (input.isArray() && !input.isEmpty()));
      if (!ok) throw OpenAiError.invalid("input", "'input' must be a string or a non-empty array.");
      JsonNode format = body.get("encoding_format");
      if (format != null && !format.isNull() && !"float".equals(format.asText()) && !"base64".equals(format.asText())) {
        throw OpenAiError.invalid("encoding_format", "'encoding_format' is float or base64.");
      }
    }
    return body;
  }

  /** Who, which project, which book and models, and the deadline and ceiling: headers, then the project's defaults, then the node's. */
  private CompletionStage<EdgeCall> resolve(Principal p, HttpRequest request, Operation operation, ObjectNode body, byte[] bytes, Instant now) {
    String projectId = request.getHeader("X-Keld-Project").map(h -> h.value().trim()).orElse(p.projectId());
    if (projectId == null) {
      throw OpenAiError.invalid("X-Keld-Project", "This key is not scoped to a project: name the project the spend belongs to in the X-Keld-Project header.");
    }
    return project(projectId).thenCompose(found -> {
      Project project = found.filter(x -> Access.seesProject(p, x)).orElseThrow(() ->
          new OpenAiError(404, "invalid_request_error", "project_not_found", "X-Keld-Project", "Project '" + clip(projectId) + "' was not found.", false));
      if (!Access.spendsIn(p, project)) {
        throw new OpenAiError(403, "permission_error", "read_only_key", null, "This key may not spend in project " + project.id() + ": use a member or admin key.", false);
      }
      return defaults.of(project.id()).thenApply(d -> {
        String model = body.get("model").asText();
        String useCase;
        Set<String> models;
        if (model.startsWith("keld/")) {
          useCase = model.substring(5);
          if (!jobs.useCases().contains(useCase)) throw OpenAiError.modelNotFound(model, "Known: " + catalogNames());
          models = Set.of();
        } else {
          models = Set.of(model);
          useCase = request.getHeader("X-Keld-Use-Case").map(h -> h.value().trim()).orElse(null);
          if (useCase != null && !jobs.useCases().contains(useCase)) {
            throw OpenAiError.invalid("X-Keld-Use-Case", "Unknown use case '" + clip(useCase) + "'; known: " + String.join(", ", new TreeSet<>(jobs.useCases())));
          }
          if (useCase == null) useCase = bookFor(model, operation, d.useCase());
        }
        long ceiling = request.getHeader("X-Keld-Ceiling").map(h -> ceiling(h.value())).orElse(
            d.ceilingPerMtok() != null ? d.ceilingPerMtok() : settings.defaultCeilingPerMtok());
        Instant deadline = request.getHeader("X-Keld-Deadline").map(h -> deadline(h.value(), now)).orElse(
            now.plus(d.deadline() != null ? d.deadline() : settings.defaultDeadline()));
        long lead = Duration.between(now, deadline).toMillis();
        if (lead < settings.minLead().toMillis() || lead > jobs.settings().maxLead().toMillis()) {
          throw OpenAiError.invalid("X-Keld-Deadline", "The deadline must be between " + settings.minLead().toSeconds() + " s and "
              + jobs.settings().maxLead().toDays() + " days from now.");
        }
        long tokens = Item.estimate(operation, body);
        if (tokens > BudgetLedger.MAX_TOKENS) throw OpenAiError.invalid("max_tokens", "The request is larger than a budget can hold.");
        boolean stream = operation == Operation.CHAT_COMPLETIONS && body.path("stream").asBoolean(false);
        return new EdgeCall(p, project, operation, model, useCase, models, now, deadline, ceiling, tokens, stream, body, bytes);
      });
    });
  }

  /** The book a named model is served on: the request's or project's use case if the model is on it, else the operation's usual one, else any. */
  private String bookFor(String model, Operation operation, String projectUseCase) {
    // The usual books first, without building the sorted list of every book the usual case never reaches.
    if (projectUseCase != null && offersModel(projectUseCase, model)) return projectUseCase;
    String usual = DEFAULT_USE_CASE.get(operation);
    if (offersModel(usual, model)) return usual;
    for (String uc : new TreeSet<>(localBooks.useCases())) {
      if (offersModel(uc, model)) return uc;
    }
    throw OpenAiError.modelNotFound(model, "Models with asks now: " + catalogNames() + ".");
  }

  private boolean offersModel(String useCase, String model) {
    for (Quote.Option o : localBooks.offers(useCase)) {
      if (o.model().equals(model)) return true;
    }
    return false;
  }

  private static long ceiling(String text) {
    try {
      BigDecimal usd = new BigDecimal(text.trim());
      if (usd.signum() <= 0) throw new NumberFormatException();
      return WireMoney.microUsd(usd);
    } catch (NumberFormatException | ArithmeticException e) {
      throw OpenAiError.invalid("X-Keld-Ceiling", "X-Keld-Ceiling is the most you pay in USD per million tokens, e.g. 2.5 (at most 6 decimals).");
    }
  }

  private static Instant deadline(String text, Instant now) {
    try {
      return Deadlines.parse(text, now);
    } catch (IllegalArgumentException e) {
      throw OpenAiError.invalid("X-Keld-Deadline", "X-Keld-Deadline: " + e.getMessage());
    }
  }

  /** The project (through TenancyStore's cache of projects); an id that cannot be a project's is not looked up. */
  private CompletionStage<Optional<Project>> project(String id) {
    if (!PROJECT_ID.matcher(id).matches()) return CompletableFuture.completedFuture(Optional.empty());
    return tenancy.project(id);
  }

  // -- the job path: a later deadline --------------------------------------------------------------

  /** A one-item deadline job: admitted, matched on the book (or escalated), run through Flow; the answer comes back as the response. */
  private CompletionStage<HttpResponse> asJob(EdgeCall call) {
    JobRequest request = JobRequest.of(call.useCase(), call.ceilingPerMtok(), call.estimatedTokens(), call.deadline(), call.project().id())
        .withModels(call.models());
    return jobs.submit(call.principal(), request, null, null).thenCompose(reply -> {
      if (reply instanceof DeadlineJob.Refused r) {
        throw OpenAiError.insufficientQuota("Your project's budget refused this request: " + r.refusal().problem().detail());
      }
      if (!(reply instanceof DeadlineJob.Accepted a)) throw new IllegalStateException("a job without an idempotency key cannot conflict");
      String jobId = a.view().jobId();
      ObjectNode body = call.body().deepCopy();
      body.remove("stream");
      body.remove("stream_options");
      Item item = new Item("1", call.operation(), body, call.estimatedTokens());
      return streams.run(jobId, Source.single(item)).runWith(Sink.head(), materializer)
          .thenCompose(result -> jobs.get(jobId).thenApply(view -> jobAnswer(call, jobId, result, view.orElse(null))));
    });
  }

  private HttpResponse jobAnswer(EdgeCall call, String jobId, ItemResult result, JobView view) {
    List<HttpHeader> headers = new ArrayList<>();
    headers.add(RawHeader.create("X-Keld-Job-Id", jobId));
    headers.add(RawHeader.create("X-Keld-Path", "job"));
    if (view != null && view.match() != null) {
      headers.add(RawHeader.create("X-Keld-Provider", view.match().providerId()));
      headers.add(RawHeader.create("X-Keld-Price", WireMoney.usd(view.match().pricePerMtok()).toPlainString()));
    }
    if (!result.ok()) {
      int status = result.error().status() >= 400 && result.error().status() < 500 ? result.error().status() : 502;
      return new OpenAiError(status, result.error().type(), result.error().code(), null, result.error().message(), status >= 500).response()
          .addHeaders(headers);
    }
    JsonNode response = result.response();
    byte[] bytes;
    try {
      bytes = call.operation() == Operation.EMBEDDINGS && "base64".equals(call.body().path("encoding_format").asText(null))
          ? RealtimePath.asBase64Embeddings(response.deepCopy()) : JSON.writeValueAsBytes(response);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    if (!call.stream()) return HttpResponse.create().withHeaders(headers).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, bytes));
    return HttpResponse.create().withHeaders(headers).withEntity(HttpEntities.createChunked(
        ContentTypes.parse("text/event-stream"), Source.from(asChunks(response, call.body()))));
  }

  /** A whole chat completion told as a stream: the content in one chunk, the finish, the usage if asked for, then [DONE]. */
  static List<ByteString> asChunks(JsonNode completion, JsonNode request) {
    List<ByteString> out = new ArrayList<>();
    JsonNode choice = completion.path("choices").path(0);
    ObjectNode first = chunk(completion);
    ObjectNode delta = ((ArrayNode) first.get("choices")).addObject().put("index", 0).putObject("delta");
    delta.put("role", "assistant").put("content", choice.path("message").path("content").asText(""));
    ((ObjectNode) first.get("choices").get(0)).putNull("finish_reason");
    out.add(sse(first));
    ObjectNode last = chunk(completion);
    ((ArrayNode) last.get("choices")).addObject().put("index", 0).put("finish_reason", choice.path("finish_reason").asText("stop")).putObject("delta");
    out.add(sse(last));
    if (request.path("stream_options").path("include_usage").asBoolean(false)) {
      ObjectNode usage = chunk(completion);
      usage.set("usage", completion.path("usage"));
      out.add(sse(usage));
    }
    out.add(ByteString.fromString("data: [DONE]\n\n"));
    return out;
  }

  private static ObjectNode chunk(JsonNode completion) {
    ObjectNode c = JSON.createObjectNode();
    c.put("id", completion.path("id").asText("chatcmpl-keld"));
    c.put("object", "chat.completion.chunk");
    c.put("created", completion.path("created").asLong(0));
    c.put("model", completion.path("model").asText(""));
    c.putArray("choices");
    return c;
  }

  private static ByteString sse(JsonNode data) {
    return ByteString.fromString("data: " + data + "\n\n");
  }

  // -- models -----------------------------------------------------------------------------------

  /** The catalog: every model with an ask now, and keld/<use-case> for every book, each with the live best price. */
  private ObjectNode models() {
    Map<String, Long> best = new TreeMap<>();
    Map<String, Set<String>> useCasesOf = new TreeMap<>();
    ObjectNode list = JSON.createObjectNode().put("object", "list");
    ArrayNode data = list.putArray("data");
    for (String uc : new TreeSet<>(jobs.useCases())) {
      List<Quote.Option> offers = localBooks.offers(uc);
      for (Quote.Option o : offers) {
        best.merge(o.model(), o.pricePerMtok(), Math::min);
        useCasesOf.computeIfAbsent(o.model(), m -> new TreeSet<>()).add(uc);
      }
    }
    for (Map.Entry<String, Long> e : best.entrySet()) data.add(modelEntry(e.getKey(), useCasesOf.get(e.getKey()), e.getValue()));
    for (String uc : new TreeSet<>(jobs.useCases())) {
      Long price = localBooks.offers(uc).stream().map(Quote.Option::pricePerMtok).min(Long::compare).orElse(null);
      data.add(modelEntry("keld/" + uc, Set.of(uc), price));
    }
    return list;
  }

  private Route model(String id) {
    for (JsonNode m : models().path("data")) {
      if (m.path("id").asText().equals(id)) return complete(json(m));
    }
    throw OpenAiError.modelNotFound(id, "See GET /v1/models.");
  }

  private ObjectNode modelEntry(String id, Set<String> useCases, Long bestPrice) {
    ObjectNode m = JSON.createObjectNode();
    m.put("id", id).put("object", "model").put("created", createdEpochSeconds).put("owned_by", "keld");
    ObjectNode keld = m.putObject("keld");
    ArrayNode ucs = keld.putArray("use_cases");
    useCases.forEach(ucs::add);
    if (bestPrice == null) keld.putNull("best_price_usd_per_mtok");
    else keld.put("best_price_usd_per_mtok", WireMoney.usd(bestPrice));
    return m;
  }

  private String catalogNames() {
    List<String> names = new ArrayList<>();
    models().path("data").forEach(m -> names.add(m.path("id").asText()));
    return String.join(", ", names);
  }

  private static HttpResponse json(JsonNode body) {
    return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString()));
  }
}
