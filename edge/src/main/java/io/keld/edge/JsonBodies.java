package io.keld.edge;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * JSON in and out of Keld's HTTP APIs: snake_case members, ISO-8601 times, absent members left
 * out. Request bodies are read strictly: an unknown member (usually a typo) or a value of the wrong
 * type is a 422 problem naming the member, malformed JSON a 400, another content type a 415.
 */
public final class JsonBodies {

  /** The one mapper of the public HTTP APIs. */
  public static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .addModule(new JavaTimeModule())
          .disable(com.fasterxml.jackson.databind.SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          // A string where a number belongs, 1.5 for a whole number, 5 for a name: wrong types, refused.
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS)
          .serializationInclusion(JsonInclude.Include.NON_NULL)
          .build();

  /** Largest JSON body the control-plane APIs read. */
  public static final long MAX_BODY_BYTES = 64 * 1024;

  private JsonBodies() {}

  /** Reads the body as {@code type} and hands it to {@code inner}; answers problem+json when it cannot. */
  public static <T> Route body(Class<T> type, Function<T, Route> inner) {
    return withSizeLimit(MAX_BODY_BYTES, () ->
        extractRequestEntity(entity -> {
          if (!entity.getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
            throw ProblemException.of(ProblemType.UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/json, got " + entity.getContentType().mediaType());
          }
          return entity(Unmarshaller.entityToString(), text -> inner.apply(parse(text, type)));
        }));
  }

  /** As {@link #body}, also handing over the body's text as it came (to fingerprint a request, say). */
  public static <T> Route bodyWithText(Class<T> type, java.util.function.BiFunction<T, String, Route> inner) {
    return withSizeLimit(MAX_BODY_BYTES, () ->
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
      throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD,
          "unknown member '" + e.getPropertyName() + "'; known members: " + e.getKnownPropertyIds().stream()
              .map(Object::toString).sorted().collect(Collectors.joining(", "))).withField(e.getPropertyName()));
    } catch (JsonMappingException e) {
      String field = path(e);
      if (e.getCause() instanceof ProblemException p) throw p;
      if (e.getCause() instanceof InvalidField f) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD, f.getMessage()).withField(f.field()));
      }
      if (e.getCause() instanceof IllegalArgumentException iae) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD, iae.getMessage()).withField(field.isEmpty() ? null : field));
      }
      if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException && !field.isEmpty()) {
        throw new ProblemException(Problem.of(ProblemType.INVALID_FIELD,
            "'" + field + "' has the wrong type or is missing").withField(field));
      }
      throw ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON for this request: " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON: " + e.getOriginalMessage());
    }
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
