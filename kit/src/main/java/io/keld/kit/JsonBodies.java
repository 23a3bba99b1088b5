package io.keld.kit;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.BiFunction;

/**
 * JSON in and out of Keld's HTTP APIs: snake_case members, ISO-8601 times, absent members left
 * out. Request bodies are read strictly: an unknown member (usually a typo) or a value of the wrong
 * type is a 422 problem naming the member, malformed JSON a 400, another content type a 415.
 */
public final class JsonBodies {

  /** The mapper of the public HTTP APIs: {@link Json#WIRE}. */
  public static final ObjectMapper MAPPER = Json.WIRE;

  /** Largest JSON body the control-plane APIs read. */
  public static final long MAX_BODY_BYTES = 64 * 1024;

  private JsonBodies() {}

  /**
   * A body over {@code limit} is read to its end and dropped, then answered with {@code tooLarge}:
   * answering while the client still sends would reset the connection before it reads the answer.
   * A body that declares its length is judged by it; a chunked one is read up to the limit (and, past
   * it, drained) before the inner route sees it whole.
   */
  public static Route refuseOversized(long limit, Supplier<HttpResponse> tooLarge, Supplier<Route> inner) {
    return extractRequestEntity(entity -> extractMaterializer(mat -> {
      OptionalLong length = entity.getContentLengthOption();
      if (length.isPresent()) {
        if (length.getAsLong() > limit) return onComplete(entity.discardBytes(mat).completionStage(), done -> complete(tooLarge.get()));
        return withSizeLimit(limit, inner);
      }
      return onSuccess(readCapped(entity.getDataBytes(), limit, mat), body -> body.isEmpty()
          ? complete(tooLarge.get())
          : mapRequest(request -> request.withEntity(HttpEntities.create(entity.getContentType(), body.get())), () -> withSizeLimit(limit, inner)));
    }));
  }

  /** The whole stream when it is at most {@code limit} bytes, else empty once the stream has ended. */
  private static CompletionStage<Optional<ByteString>> readCapped(Source<ByteString, ?> bytes, long limit, Materializer mat) {
    return bytes.runWith(Sink.fold(new CappedBytes(limit), CappedBytes::add), mat)
        .thenApply(capped -> capped.over ? Optional.empty() : Optional.of(capped.builder.result()));
  }

  private static final class CappedBytes {
    final long limit;
    final ByteStringBuilder builder = new ByteStringBuilder();
    boolean over;

    CappedBytes(long limit) {
      this.limit = limit;
    }

    CappedBytes add(ByteString chunk) {
      if (!over && builder.length() + chunk.size() > limit) over = true;
      if (!over) builder.append(chunk);
      return this;
    }
  }

  private static HttpResponse tooLarge() {
    return ProblemResponses.response(Problem.of(ProblemType.PAYLOAD_TOO_LARGE, "the body is larger than " + MAX_BODY_BYTES + " bytes"));
  }

  /** Reads the body as {@code type} and hands it to {@code inner}; answers problem+json when it cannot. */
  public static <T> Route body(Class<T> type, Function<T, Route> inner) {
    return refuseOversized(MAX_BODY_BYTES, JsonBodies::tooLarge, () ->
        extractRequestEntity(entity -> {
          if (!entity.getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
            throw ProblemException.of(ProblemType.UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/json, got " + entity.getContentType().mediaType());
          }
          return entity(Unmarshaller.entityToString(), text -> inner.apply(parse(text, type)));
        }));
  }

  /** As {@link #body}, also handing over the body's text as it came (to fingerprint a request, say). */
  public static <T> Route bodyWithText(Class<T> type, BiFunction<T, String, Route> inner) {
    return refuseOversized(MAX_BODY_BYTES, JsonBodies::tooLarge, () ->
        extractRequestEntity(entity -> {
          if (!entity.getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
            throw ProblemException.of(ProblemType.UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/json, got " + entity.getContentType().mediaType());
          }
          return entity(Unmarshaller.entityToString(), text -> inner.apply(parse(text, type), text));
        }));
  }

  /** Reads {@code text} as {@code type}, or throws the {@link ProblemException} a request body would get. */
  public static <T> T parse(String text, Class<T> type) {
    if (text.isBlank()) throw ProblemException.of(ProblemType.BAD_REQUEST, "the request needs a JSON body");
    try {
      T value = MAPPER.readValue(text, type);
      if (value == null) throw ProblemException.of(ProblemType.BAD_REQUEST, "the body must be a JSON object");
      return value;
    } catch (UnrecognizedPropertyException e) {
      String field = path(e);
      throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD,
          "unknown member '" + e.getPropertyName() + "'; known members: " + e.getKnownPropertyIds().stream()
              .map(Object::toString).sorted().collect(Collectors.joining(", "))).withField(field.isEmpty() ? e.getPropertyName() : field));
    } catch (InputCoercionException e) {
      // A number too large for its field: the parser knows where it stood.
      String field = e.getProcessor() == null ? "" : path(e.getProcessor().getParsingContext());
      throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD,
          (field.isEmpty() ? "a number" : "'" + field + "'") + " is out of range").withField(field.isEmpty() ? null : field));
    } catch (JsonMappingException e) {
      String field = path(e);
      if (e.getCause() instanceof ProblemException p) throw p;
      if (e.getCause() instanceof InvalidField f) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD, f.getMessage()).withField(f.field()));
      }
      if (e.getCause() instanceof IllegalArgumentException iae) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD, iae.getMessage()).withField(field.isEmpty() ? null : field));
      }
      if (e.getCause() instanceof InputCoercionException && !field.isEmpty()) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD, "'" + field + "' is out of range").withField(field));
      }
      if (e instanceof MismatchedInputException && !field.isEmpty()) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD,
            "'" + field + "' has the wrong type or is missing").withField(field));
      }
      throw ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON for this request: " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  /** The dotted path of the member a parser stands on ("backup.price_usd_per_mtok"). */
  private static String path(JsonStreamContext ctx) {
    Deque<String> names = new ArrayDeque<>();
    for (var c = ctx; c != null; c = c.getParent()) {
      if (c.inObject() && c.getCurrentName() != null) names.addFirst(c.getCurrentName());
      else if (c.inArray()) names.addFirst("[" + Math.max(0, c.getCurrentIndex()) + "]");
    }
    return String.join(".", names);
  }

  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."));
  }

  /** A JSON response with the given status. */
  public static HttpResponse response(StatusCode status, Object body) {
    try {
      return HttpResponse.create().withStatus(status)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, MAPPER.writeValueAsBytes(body)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("response bodies are plain records and always serialize", e);
    }
  }
}
