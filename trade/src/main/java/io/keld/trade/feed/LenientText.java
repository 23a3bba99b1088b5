package io.keld.trade.feed;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * How the feed reads the names it looks up rather than checks (endpoint, ask and use case ids): as
 * {@link JsonNode#asText()} gives any JSON value, so {@code 5} is "5", {@code null} in a list is
 * "null" and an object or array is "". An odd value is then simply not found, as it always was,
 * instead of being refused for its type.
 */
final class LenientText {

  private LenientText() {}

  /** One value as text; a JSON null is no value. */
  static final class Value extends StdDeserializer<String> {
    Value() {
      super(String.class);
    }

    @Override
    public String deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      return ctxt.readTree(p).asText();
    }
  }

  /** The elements of an array as text; null for anything but an array (then the command says what it wants). */
  static final class ArrayElements extends StdDeserializer<List<String>> {
    ArrayElements() {
      super(List.class);
    }

    @Override
    public List<String> deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      JsonNode value = ctxt.readTree(p);
      return value.isArray() ? texts(value) : null;
    }
  }

  /** The values of an array or of an object as text; none for a single value. */
  static final class Values extends StdDeserializer<List<String>> {
    Values() {
      super(List.class);
    }

    @Override
    public List<String> deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      return texts(ctxt.readTree(p));
    }
  }

  private static List<String> texts(JsonNode container) {
    List<String> texts = new ArrayList<>(container.size());
    container.forEach(v -> texts.add(v.asText()));
    return texts;
  }
}
