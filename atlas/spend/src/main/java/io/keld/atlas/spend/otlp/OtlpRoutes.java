package io.keld.atlas.spend.otlp;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.google.protobuf.CodedOutputStream;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.kit.JsonBodies;
import io.keld.kit.KeyAuthentication;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsPartialSuccess;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.keld.ixp.Texts;
import io.keld.kit.ProblemResponses;
import io.keld.kit.sql.Sql;
import java.sql.SQLException;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;

/**
 * OTLP/HTTP ingest: traces ({@code POST /v1/traces}) and metrics ({@code POST /v1/metrics}, the GenAI
 * client metrics; see {@link MetricIntervals}) on the OpenTelemetry port (4318 by default), in
 * protobuf ({@code application/x-protobuf}) or JSON ({@code application/json}), gzip-compressed or
 * not, authenticated by a Keld key ({@code Authorization: Bearer keld_…}, or {@code X-Keld-Key}).
 * An OpenTelemetry SDK or Collector exports to it as to any OTLP endpoint.
 *
 * <p>Answers as OTLP says: 200 with an {@code ExportTraceServiceResponse} (or
 * {@code ExportMetricsServiceResponse}) in the request's encoding, carrying {@code partial_success}
 * when some GenAI spans (data points) were rejected (and why); 400 with a
 * {@code google.rpc.Status} for a body that does not parse; 401/403 for keys; 413 for a body over
 * the limit; 415 for another content type. Non-GenAI spans and metrics are not usage: skipped, not rejected.
 */
public final class OtlpRoutes {

  private static final Logger log = LoggerFactory.getLogger(OtlpRoutes.class);
  private static final ContentType PROTOBUF = ContentTypes.parse("application/x-protobuf");
  /** google.rpc.Code values OTLP uses. */
  private static final int INVALID_ARGUMENT = 3;
  private static final int PERMISSION_DENIED = 7;
  private static final int UNAUTHENTICATED = 16;
  private static final int RESOURCE_EXHAUSTED = 8;
  private static final int UNAVAILABLE = 14;

  private final Authenticator keys;
  private final SpendIngest ingest;
  private final MetricIntervals metrics;
  private final long maxBodyBytes;
  private final Materializer materializer;

  public OtlpRoutes(Authenticator keys, SpendIngest ingest, MetricIntervals metrics, long maxBodyBytes, Materializer materializer) {
    this.keys = keys;
    this.ingest = ingest;
    this.metrics = metrics;
    this.maxBodyBytes = maxBodyBytes;
    this.materializer = materializer;
  }

  public Route route() {
    return concat(
        path(PathMatchers.segment("v1").slash("traces"), () -> post(() -> receive(this::exportTraces))),
        path(PathMatchers.segment("v1").slash("metrics"), () -> post(() -> receive(this::exportMetrics))));
  }

  /** What one signal does with an authenticated, read export. */
  private interface Export {
    Route apply(Principal key, byte[] body, boolean json);
  }

  /** What both signals share: the content type, the key and its role, the size limit, decompression. */
  private Route receive(Export export) {
    return extractRequest(request -> {
      boolean json = request.entity().getContentType().mediaType().toString().toLowerCase(Locale.ROOT).startsWith("application/json");
      boolean protobuf = request.entity().getContentType().mediaType().toString().toLowerCase(Locale.ROOT).startsWith("application/x-protobuf");
      if (!json && !protobuf) {
        return drainThen(request.entity(), status(StatusCodes.UNSUPPORTED_MEDIA_TYPE, INVALID_ARGUMENT,
            "send application/x-protobuf or application/json (got " + request.entity().getContentType().mediaType() + ")", false));
      }
      Optional<String> key = KeyAuthentication.presentedKey(request.getHeader("Authorization"),
          request.getHeader("X-Keld-Key").or(() -> request.getHeader("X-Api-Key")));
      if (key.isEmpty()) {
        return drainThen(request.entity(), status(StatusCodes.UNAUTHORIZED, UNAUTHENTICATED,
            "send a Keld key: 'Authorization: Bearer keld_…' (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20keld_…)", json));
      }
      return onSuccess(keys.authenticate(key.get()), principal -> {
        if (principal.isEmpty()) {
          return drainThen(request.entity(), status(StatusCodes.UNAUTHORIZED, UNAUTHENTICATED, "the key is not valid (unknown or revoked)", json));
        }
        Principal p = principal.get();
        if (p.orgKind() != Principal.OrgKind.ENTERPRISE || !(p.role() == Role.ADMIN || p.role() == Role.MEMBER)) {
          return drainThen(request.entity(), status(StatusCodes.FORBIDDEN, PERMISSION_DENIED,
              "telemetry is ingested with an admin or member key of an enterprise organization", json));
        }
        return JsonBodies.refuseOversized(maxBodyBytes,
            () -> status(StatusCodes.PAYLOAD_TOO_LARGE, RESOURCE_EXHAUSTED, "the export is larger than " + maxBodyBytes + " bytes", json),
            () -> decodeRequest(() -> extractRequestEntity(entity -> onComplete(read(entity), bytes -> {
              if (bytes.isFailure()) {
                Throwable cause = ProblemResponses.cause(bytes.failed().get());
                if (cause instanceof EntityStreamSizeException) {
                  return complete(status(StatusCodes.PAYLOAD_TOO_LARGE, RESOURCE_EXHAUSTED,
                      "the export is larger than " + maxBodyBytes + " bytes once decompressed", json));
                }
                return complete(status(StatusCodes.BAD_REQUEST, INVALID_ARGUMENT, "the export could not be read (a broken gzip stream?): "
                    + Texts.clip(cause.getMessage()), json));
              }
              return export.apply(p, bytes.get(), json);
            }))));
      });
    });
  }

  private CompletionStage<byte[]> read(HttpEntity entity) {
    // The limit holds after decompression too: a small gzip body cannot unpack into gigabytes.
    return entity.toStrict(30_000, maxBodyBytes, materializer).thenApply(s -> s.getData().toArray());
  }

  private Route exportTraces(Principal p, byte[] body, boolean json) {
    List<OtlpSpan> spans;
    try {
      spans = json ? OtlpDecoder.json(body) : OtlpDecoder.protobuf(body);
    } catch (OtlpDecoder.BadExport e) {
      return complete(status(StatusCodes.BAD_REQUEST, INVALID_ARGUMENT, e.getMessage(), json));
    }
    GenAiSpans.Mapped mapped = GenAiSpans.map(p.orgId(), spans);
    List<SpendIngest.Incoming> incoming = new ArrayList<>(mapped.records().size());
    for (GenAiSpans.Mapped.One one : mapped.records()) incoming.add(new SpendIngest.Incoming(one.record(), one.attributes()));
    return onComplete(ingest.ingest(p, incoming), done -> {
      if (done.isFailure()) return complete(failed(done.failed().get(), spans.size() + " spans", p, json));
      return complete(accepted(done.get(), mapped.rejections(), json));
    });
  }

  private Route exportMetrics(Principal p, byte[] body, boolean json) {
    List<OtlpMetricPoint> points;
    try {
      points = json ? OtlpDecoder.metricsJson(body) : OtlpDecoder.metricsProtobuf(body);
    } catch (OtlpDecoder.BadExport e) {
      return complete(status(StatusCodes.BAD_REQUEST, INVALID_ARGUMENT, e.getMessage(), json));
    }
    GenAiMetrics.Mapped mapped = GenAiMetrics.map(points);
    return onComplete(metrics.record(p, mapped.contributions()), done -> {
      if (done.isFailure()) return complete(failed(done.failed().get(), points.size() + " GenAI metric points", p, json));
      return complete(metricsAccepted(mapped.rejections(), json));
    });
  }

  private static HttpResponse failed(Throwable failure, String what, Principal p, boolean json) {
    Throwable cause = ProblemResponses.cause(failure);
    // The database's message can quote row values; the log gets the kind of failure only.
    String kind = cause instanceof Sql.StoreException se && se.getCause() instanceof SQLException sql
        ? "SQLSTATE " + sql.getSQLState() : cause.getClass().getSimpleName();
    log.error("OTLP export of {} from org {} could not be written: {}", what, p.orgId(), kind);
    if (cause instanceof Sql.StoreException) {
      return status(StatusCodes.SERVICE_UNAVAILABLE, UNAVAILABLE, "the ledger could not be written; retry", json);
    }
    return status(StatusCodes.BAD_REQUEST, INVALID_ARGUMENT, "the export could not be accounted for (" + kind + ")", json);
  }

  private static HttpResponse metricsAccepted(List<GenAiMetrics.Rejection> rejections, boolean json) {
    String message = rejections.isEmpty() ? "" : rejections.size() + " GenAI metric point(s) rejected: " + rejections.stream().limit(5)
        .map(r -> r.reason()).collect(Collectors.joining("; ")) + (rejections.size() > 5 ? "; ..." : "");
    if (json) {
      String body = rejections.isEmpty() ? "{}" : "{\"partialSuccess\":{\"rejectedDataPoints\":\"" + rejections.size()
          + "\",\"errorMessage\":" + quote(message) + "}}";
      return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
    }
    ExportMetricsServiceResponse.Builder r = ExportMetricsServiceResponse.newBuilder();
    if (!rejections.isEmpty()) {
      r.setPartialSuccess(ExportMetricsPartialSuccess.newBuilder().setRejectedDataPoints(rejections.size()).setErrorMessage(message));
    }
    return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(PROTOBUF, r.build().toByteArray()));
  }

  private static HttpResponse accepted(Ledger.Appended appended, List<GenAiSpans.Rejection> rejections, boolean json) {
    String message = rejections.isEmpty() ? "" : rejections.size() + " GenAI span(s) rejected: " + rejections.stream().limit(5)
        .map(r -> "span " + r.spanId() + ": " + r.reason()).collect(Collectors.joining("; ")) + (rejections.size() > 5 ? "; ..." : "");
    if (json) {
      String body = rejections.isEmpty() ? "{}" : "{\"partialSuccess\":{\"rejectedSpans\":\"" + rejections.size() + "\",\"errorMessage\":"
          + quote(message) + "}}";
      return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
    }
    ExportTraceServiceResponse.Builder r = ExportTraceServiceResponse.newBuilder();
    if (!rejections.isEmpty()) {
      r.setPartialSuccess(ExportTracePartialSuccess.newBuilder().setRejectedSpans(rejections.size()).setErrorMessage(message));
    }
    return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(PROTOBUF, r.build().toByteArray()));
  }

  /** An OTLP error answer: a google.rpc.Status (code, message) in the request's encoding. */
  static HttpResponse status(StatusCode http, int code, String message, boolean json) {
    if (json) {
      return HttpResponse.create().withStatus(http)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, "{\"code\":" + code + ",\"message\":" + quote(message) + "}"));
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try {
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.writeInt32(1, code);
      out.writeString(2, message);
      out.flush();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return HttpResponse.create().withStatus(http).withEntity(HttpEntities.create(PROTOBUF, bytes.toByteArray()));
  }

  private Route drainThen(HttpEntity entity, HttpResponse response) {
    return onComplete(entity.discardBytes(materializer).completionStage(), done -> complete(response));
  }

  private static String quote(String s) {
    try {
      return JsonBodies.MAPPER.writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
