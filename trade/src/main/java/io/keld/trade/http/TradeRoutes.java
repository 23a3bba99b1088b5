package io.keld.trade.http;

import static io.keld.kit.JsonBodies.body;
import static io.keld.kit.JsonBodies.response;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.ProblemType;
import io.keld.trade.asks.AskAmendment;
import io.keld.trade.asks.AskService;
import io.keld.trade.asks.AskView;
import io.keld.trade.asks.AskTerms;
import io.keld.trade.asks.ProviderAsk;
import io.keld.trade.feed.FeedRoute;
import io.keld.trade.statement.StatementStore;
import io.keld.trade.http.TradeJson.*;
import io.keld.trade.providers.ProviderStore;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Optional;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * {@code /trade/v1}: a provider organization's endpoints, models and asks, and the public view of a
 * book. Keys of provider organizations only; read-only keys read. Another provider's resources are
 * 404, like ones that do not exist. Book views carry price levels and aggregated demand, never an
 * enterprise's identity.
 */
public final class TradeRoutes {

  private final Authenticator authenticator;
  private final ProviderStore providers;
  private final AskService asks;
  private final FeedRoute feed;
  private final StatementStore statement;

  public TradeRoutes(Authenticator authenticator, ProviderStore providers, AskService asks, FeedRoute feed, StatementStore statement) {
    this.authenticator = authenticator;
    this.providers = providers;
    this.asks = asks;
    this.feed = feed;
    this.statement = statement;
  }

  public Route route() {
    return pathPrefix("trade", () -> pathPrefix("v1", () -> KeyAuthentication.authenticated(authenticator, p -> {
      requireProvider(p);
      return concat(
          // GET only: a WebSocket upgrade is a GET (RFC 6455); another method gets 405, not a "send an upgrade" 400.
          path("feed", () -> get(() -> feed.route(p))),
          path("statement", () -> get(() -> parameterOptional("from", from -> parameterOptional("to", to -> statement(p, from, to))))),
          pathPrefix("endpoints", () -> concat(
              pathEnd(() -> concat(
                  get(() -> onSuccess(providers.endpoints(p.orgId()), list -> complete(ok(new ListOf<>(list.stream().map(EndpointView::of).toList()))))),
                  post(() -> writes(p, () -> body(CreateEndpoint.class, req -> onSuccess(providers.createEndpoint(p.orgId(), req.name(), req.baseUrl(), req.credential()),
                      e -> complete(response(StatusCodes.CREATED, EndpointView.of(e))))))))),
              path(PathMatchers.segment(), id -> concat(
                  get(() -> onSuccess(providers.endpoint(p.orgId(), id), e -> complete(ok(EndpointView.of(e.orElseThrow(() -> ProblemException.notFound("endpoint " + id))))))),
                  delete(() -> writes(p, () -> onSuccess(providers.deleteEndpoint(p.orgId(), id), gone -> {
                    if (!gone) throw ProblemException.notFound("endpoint " + id);
                    return complete(StatusCodes.NO_CONTENT);
                  }))))))),
          pathPrefix("models", () -> concat(
              pathEnd(() -> get(() -> onSuccess(providers.models(p.orgId()), list -> complete(ok(new ListOf<>(list.stream().map(ModelView::of).toList())))))),
              path(PathMatchers.segment(), model -> concat(
                  get(() -> onSuccess(providers.model(p.orgId(), model), m -> complete(ok(ModelView.of(m.orElseThrow(() -> ProblemException.notFound("model " + model))))))),
                  put(() -> writes(p, () -> body(PutModel.class, req -> {
                    if (model.length() > 200) throw ProblemException.invalid("model", "a model name is at most 200 characters");
                    req.useCases().forEach(u -> asks.requireKnownUseCase(u, "use_cases"));
                    return onSuccess(providers.putModel(p.orgId(), model, req.useCases(), req.regions(), req.endpointId()), m -> complete(ok(ModelView.of(m))));
                  }))),
                  delete(() -> writes(p, () -> onSuccess(providers.deleteModel(p.orgId(), model), gone -> {
                    if (!gone) throw ProblemException.notFound("model " + model);
                    return complete(StatusCodes.NO_CONTENT);
                  }))))))),
          pathPrefix("asks", () -> concat(
              pathEnd(() -> concat(
                  get(() -> parameterOptional("state", state -> parameterOptional("limit", limit -> listAsks(p, state, limit)))),
                  post(() -> writes(p, () -> body(AskTerms.class, terms -> onSuccess(asks.post(p.orgId(), terms),
                      a -> complete(response(StatusCodes.CREATED, AskView.of(a))))))))),
              path(PathMatchers.segment(), id -> concat(
                  get(() -> onSuccess(asks.list(p.orgId(), null, 10_000), list -> complete(ok(AskView.of(list.stream().filter(a -> a.id().equals(id))
                      .findFirst().orElseThrow(() -> ProblemException.notFound("ask " + id))))))),
                  patch(() -> writes(p, () -> body(AskAmendment.class, change -> onSuccess(asks.amend(p.orgId(), id, change), a -> complete(ok(AskView.of(a))))))),
                  delete(() -> writes(p, () -> onSuccess(asks.withdraw(p.orgId(), id), a -> complete(ok(AskView.of(a)))))))))),
          path(PathMatchers.segment("books").slash(PathMatchers.segment()), useCase ->
              get(() -> onSuccess(asks.book(useCase), view -> complete(ok(view))))));
    })));
  }

  private Route listAsks(Principal p, Optional<String> state, Optional<String> limitParam) {
    String s = state.orElse(null);
    if (s != null && !s.equals(ProviderAsk.OPEN) && !s.equals(ProviderAsk.WITHDRAWN)) {
      throw ProblemException.invalid("state", "state is open or withdrawn");
    }
    int limit = 500;
    if (limitParam.isPresent()) {
      try {
        limit = Integer.parseInt(limitParam.get());
        if (limit < 1 || limit > 1000) throw new NumberFormatException();
      } catch (NumberFormatException e) {
        throw ProblemException.invalid("limit", "limit must be a whole number from 1 to 1000");
      }
    }
    return onSuccess(asks.list(p.orgId(), s, limit), list -> complete(ok(new ListOf<>(list.stream().map(AskView::of).toList()))));
  }

  /** Fills, tokens, revenue and utilization by UTC day, model and use case; the last 30 days unless {@code from}/{@code to} say otherwise. */
  private Route statement(Principal p, Optional<String> fromParam, Optional<String> toParam) {
    LocalDate to = date(toParam, "to", LocalDate.now(ZoneOffset.UTC));
    LocalDate from = date(fromParam, "from", to.minusDays(29));
    if (from.isAfter(to)) throw ProblemException.invalid("from", "from must not be after to");
    if (from.plusDays(366).isBefore(to)) throw ProblemException.invalid("from", "a statement covers at most 366 days");
    return onSuccess(asks.list(p.orgId(), null, 100_000).thenCompose(mine -> statement.statement(p.orgId(), from, to, mine)), lines -> {
      long[] t = new long[5];
      for (StatementStore.Line l : lines) {
        t[0] += l.fills();
        t[1] += l.failedFills();
        t[2] += l.tokensFilled();
        t[3] += l.tokensServed();
        t[4] += l.revenueMicroUsd();
      }
      return complete(ok(new Statement(from, to, lines, new Totals(t[0], t[1], t[2], t[3], t[4]))));
    });
  }

  record Statement(LocalDate from, LocalDate to, List<StatementStore.Line> lines, Totals totals) {}

  record Totals(long fills, long failedFills, long tokensFilled, long tokensServed, long revenueMicroUsd) {}

  private static LocalDate date(Optional<String> param, String name, LocalDate dflt) {
    if (param.isEmpty()) return dflt;
    try {
      return LocalDate.parse(param.get());
    } catch (DateTimeParseException e) {
      throw ProblemException.invalid(name, name + " is a date like 2026-11-21 (UTC)");
    }
  }

  private static void requireProvider(Principal p) {
    if (p.orgKind() != OrgKind.PROVIDER) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "Keld Trade is for provider organizations; this key belongs to a " + p.orgKind().wire() + " organization");
    }
  }

  private static Route writes(Principal p, Supplier<Route> inner) {
    if (p.role() == Role.READ_ONLY) throw ProblemException.of(ProblemType.FORBIDDEN, "a read-only key cannot change anything");
    return inner.get();
  }

  private static HttpResponse ok(Object body) {
    return response(StatusCodes.OK, body);
  }
}
