package io.keld.atlas.spend.connections;

import java.util.Locale;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.atlas.audit.AuditLog;
import io.keld.atlas.spend.connections.ConnectionStore.ProviderConnection;
import io.keld.ixp.Texts;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.ProblemType;
import io.keld.kit.JsonBodies;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * {@code /atlas/v1/connections}: an enterprise's provider credentials that the node pulls usage and
 * cost reports with. Created, pulled and deleted with an organization-wide admin key (or the
 * operator, naming {@code org_id}); listed with any organization-wide key. The credential goes in
 * and never comes out: no answer, audit entry or error holds it.
 */
public final class ConnectionRoutes {

  /** {@code POST /atlas/v1/connections}'s body. */
  public record ConnectionBody(String provider, String name, String credential) {}

  private static final Pattern CREDENTIAL = Pattern.compile("[\\x21-\\x7e]{8,2000}");
  private static final Pattern ID = Pattern.compile("conn_[0-9a-f]{20}");

  private final Authenticator keys;
  private final Connections connections;
  private final AuditLog audit;
  private final Clock clock;
  private final Reconciliation reconciliation;

  public ConnectionRoutes(Authenticator keys, Connections connections, Reconciliation reconciliation, AuditLog audit, Clock clock) {
    this.keys = keys;
    this.connections = connections;
    this.reconciliation = reconciliation;
    this.audit = audit;
    this.clock = clock;
  }

  public Route route() {
    return pathPrefix("atlas", () -> pathPrefix("v1", () -> concat(
        path(PathMatchers.segment("reports").slash("reconcile"), () -> KeyAuthentication.authenticated(keys, p -> get(() -> parameterMap(q ->
            reconcile(org(p, q, false), q))))),
        pathPrefix("connections", () -> KeyAuthentication.authenticated(keys, p -> concat(
        pathEndOrSingleSlash(() -> concat(
            get(() -> parameterMap(q -> {
              String org = org(p, q, false);
              return onSuccess(connections.store().list(org), list -> complete(ok(Map.of("connections",
                  list.stream().map(this::view).toList()))));
            })),
            post(() -> parameterMap(q -> create(p, org(p, q, true)))))),
        path(PathMatchers.segment(), id -> pathEndOrSingleSlash(() -> concat(
            get(() -> parameterMap(q -> onSuccess(connections.store().get(org(p, q, false), checkId(id)),
                c -> complete(ok(view(c.orElseThrow(() -> ProblemException.notFound("connection " + id)))))))),
            delete(() -> parameterMap(q -> {
              String org = org(p, q, true);
              return onSuccess(connections.store().delete(org, checkId(id)), deleted -> {
                if (!deleted) throw ProblemException.notFound("connection " + id);
                return onSuccess(audit.record(org, p.keyId(), "connection.delete", id, "ok", 204, null),
                    x -> complete(HttpResponse.create().withStatus(StatusCodes.NO_CONTENT)));
              });
            }))))),
        path(PathMatchers.segment().slash("pull"), id -> post(() -> parameterMap(q -> {
          String org = org(p, q, true);
          // A backfill with backoffs takes longer than the server's request timeout.
          return withRequestTimeout(Duration.ofMinutes(10), () -> onSuccess(connections.store().get(org, checkId(id)), found -> {
            if (found.isEmpty()) throw ProblemException.notFound("connection " + id);
            return onSuccess(connections.pullNow(id), c -> complete(ok(view(c))));
          }));
        })))))))));
  }

  /** {@code GET /atlas/v1/reports/reconcile}: telemetry beside the providers' reports and bills, per provider and UTC day. */
  private Route reconcile(String org, Map<String, String> q) {
    Instant to = time(q, "to", clock.instant().truncatedTo(ChronoUnit.DAYS).plus(1, ChronoUnit.DAYS));
    Instant from = time(q, "from", to.minus(30, ChronoUnit.DAYS));
    if (!from.isBefore(to)) throw ProblemException.invalid("from", "from must be before to");
    if (Duration.between(from, to).toDays() > 400) throw ProblemException.invalid("from", "a reconciliation spans at most 400 days");
    return onSuccess(reconciliation.lines(org, from, to), lines -> {
      List<Map<String, Object>> rows = lines.stream().map(l -> {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("day", l.day().toString());
        m.put("provider", l.provider());
        m.put("telemetry", sums(l.telemetry()));
        m.put("reported", sums(l.reported()));
        m.put("billed_micro_usd", l.billed().costMicroUsd());
        m.put("unexplained_micro_usd", l.unexplainedMicroUsd());
        m.put("unseen_tokens", l.unseenTokens());
        return m;
      }).toList();
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("from", from);
      body.put("to", to);
      body.put("rows", rows);
      return complete(ok(body));
    });
  }

  private static Map<String, Object> sums(Reconciliation.Sums s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("records", s.records());
    m.put("requests", s.requests());
    m.put("input_tokens", s.inputTokens());
    m.put("output_tokens", s.outputTokens());
    m.put("cost_micro_usd", s.costMicroUsd());
    return m;
  }

  private static Instant time(Map<String, String> q, String name, Instant otherwise) {
    String v = q.get(name);
    if (v == null || v.isBlank()) return otherwise;
    try {
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      throw ProblemException.invalid(name, name + " is an RFC 3339 UTC time, e.g. 2026-11-01T00:00:00Z; got " + Texts.clip(v, 40));
    }
  }

  private Route create(Principal p, String org) {
    return extractRequestEntity(entity -> {
      if (!entity.getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
        throw ProblemException.of(ProblemType.UNSUPPORTED_MEDIA_TYPE, "the body must be application/json");
      }
      return entity(Unmarshaller.entityToString(), text -> {
        ConnectionBody body = parse(text);
        String provider = body.provider() == null ? null : body.provider().strip();
        if (provider == null || provider.isEmpty()) {
          throw ProblemException.invalid("provider", "provider is required: one of " + String.join(", ", providers()));
        }
        if (!connections.settings().providers().containsKey(provider)) {
          throw ProblemException.invalid("provider", "provider must be one of " + String.join(", ", providers()) + "; got "
              + Texts.clip(provider, 64));
        }
        if (body.credential() == null) throw ProblemException.invalid("credential", "credential is required: the provider's admin key");
        if (!CREDENTIAL.matcher(body.credential()).matches()) {
          throw ProblemException.invalid("credential", "credential must be 8 to 2000 printable characters without spaces");
        }
        String name = body.name() == null || body.name().isBlank() ? provider : body.name().strip();
        if (name.length() > 200) throw ProblemException.invalid("name", "name is at most 200 characters");
        return onSuccess(connections.create(org, provider, name, body.credential())
                .thenCompose(c -> audit.record(org, p.keyId(), "connection.create", c.id(), "ok", 201, "provider " + provider).thenApply(x -> c)),
            c -> complete(JsonBodies.response(StatusCodes.CREATED, view(c))));
      });
    });
  }

  /** Reads the body; a JSON error is described without quoting the body, which holds a credential. */
  private static ConnectionBody parse(String text) {
    try {
      return JsonBodies.parse(text, ConnectionBody.class);
    } catch (ProblemException e) {
      if (e.problem().field() != null) throw e;
      throw ProblemException.of(ProblemType.BAD_REQUEST,
          "the body must be a JSON object {\"provider\": …, \"name\": …, \"credential\": …}");
    }
  }

  private List<String> providers() {
    return connections.settings().providers().keySet().stream().sorted().toList();
  }

  private static String checkId(String id) {
    if (!ID.matcher(id).matches()) throw ProblemException.notFound("connection " + Texts.clip(id, 40));
    return id;
  }

  /** The organization a call is about; {@code admin}: the call changes something. */
  private static String org(Principal p, Map<String, String> q, boolean admin) {
    if (p.isOperator()) {
      String org = q.get("org_id");
      if (org == null || org.isBlank()) throw ProblemException.invalid("org_id", "the operator names the organization: org_id=");
      return org;
    }
    if (p.orgKind() != Principal.OrgKind.ENTERPRISE) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "connections belong to enterprise organizations");
    }
    if (p.teamId() != null || p.projectId() != null) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "connections cover the whole organization: use an organization-wide key");
    }
    if (admin && p.role() != Role.ADMIN) throw ProblemException.of(ProblemType.FORBIDDEN, "connections are managed with an admin key");
    return p.orgId();
  }

  Map<String, Object> view(ProviderConnection c) {
    Instant now = clock.instant();
    Map<String, Object> status = new LinkedHashMap<>();
    status.put("state", c.lastError() != null ? "error" : c.lastSuccessAt() != null ? "ok" : "pending");
    status.put("watermark", c.watermark());
    status.put("lag_seconds", Math.max(0, Duration.between(c.watermark(), now).toSeconds()));
    status.put("last_attempt_at", c.lastAttemptAt());
    status.put("last_success_at", c.lastSuccessAt());
    status.put("last_error", c.lastError());
    status.put("last_error_at", c.lastErrorAt());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", c.id());
    out.put("provider", c.provider());
    out.put("api", connections.settings().providers().containsKey(c.provider())
        ? connections.settings().providers().get(c.provider()).api().name().toLowerCase(Locale.ROOT) : null);
    out.put("name", c.name());
    out.put("created_at", c.createdAt());
    out.put("status", status);
    return out;
  }

  private static HttpResponse ok(Object body) {
    return JsonBodies.response(StatusCodes.OK, body);
  }
}
