package io.keld.kit;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

/**
 * Keld's configured Jackson mappers: the only place main code builds an {@link ObjectMapper}. Three
 * kinds of JSON, three mappers:
 * <ul>
 *   <li>{@link #WIRE}: Keld's own public JSON (snake_case, ISO-8601 times, read strictly);</li>
 *   <li>{@link #PLAIN}: JSON whose member names are the JSON's own (OpenAI-shaped request and answer
 *       trees, tag maps in a column, problem details), at Jackson's defaults;</li>
 *   <li>{@link #EXACT}: third-party documents imported into the ledger, read so that nothing is
 *       guessed or rounded.</li>
 * </ul>
 * The mappers are shared: never reconfigure one. A site with a rule of its own for one read derives
 * an {@link com.fasterxml.jackson.databind.ObjectReader} ({@code Json.PLAIN.reader().with(...)}).
 */
public final class Json {

  /**
   * Keld's public HTTP APIs ({@link JsonBodies}) and Keld's own stored JSON: snake_case members,
   * ISO-8601 times, absent members left out. Reading is strict: an unknown member, a value of the
   * wrong type (a string for a number, 1.5 for a whole number, a number for a string), a null for a
   * primitive or anything after the one JSON value fails.
   */
  public static final ObjectMapper WIRE =
      JsonMapper.builder()
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .addModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          // A string where a number belongs, 1.5 for a whole number, 5 for a name: wrong types, refused.
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
          // ... and a number or a boolean where a string belongs; and anything after the one JSON value.
          .withCoercionConfig(LogicalType.Textual, c -> c
              .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
              .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
              .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .serializationInclusion(JsonInclude.Include.NON_NULL)
          .build();

  /**
   * JSON whose member names are the JSON's own: trees of OpenAI-compatible requests and provider
   * answers (passed on as they came), maps of tags, problem details, the CLI's calls. Jackson's
   * defaults: no naming strategy (a record that wants snake_case says so with {@code @JsonNaming}),
   * lenient scalars, duplicate members allowed (the last wins), floats as doubles.
   */
  public static final ObjectMapper PLAIN = JsonMapper.builder().build();

  /**
   * Usage exports imported into the ledger (OpenAI, Anthropic, LiteLLM, Atlas files): a duplicate
   * member is refused (which of two values would be meant?) and decimals are read as
   * {@link java.math.BigDecimal}, so a cost is never rounded through a double. Otherwise Jackson's
   * defaults, like {@link #PLAIN}.
   */
  public static final ObjectMapper EXACT =
      JsonMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .build();

  private Json() {}
}
