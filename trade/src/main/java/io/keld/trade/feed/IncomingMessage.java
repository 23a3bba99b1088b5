package io.keld.trade.feed;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.InvalidField;
import io.keld.kit.JsonBodies;
import io.keld.kit.ProblemException;
import io.keld.ixp.auth.Role;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One text message from a provider, read as far as the feed needs before it decodes the command:
 * its correlation {@code id}, which the answer carries even when the rest is refused, and its
 * {@code type}, which decides whether a read-only key may send it at all.
 *
 * @param id      the correlation id as text, whatever its JSON type (null when absent)
 * @param type    the type as text ("" when absent)
 * @param members the whole message
 */
record IncomingMessage(String id, String type, ObjectNode members) {

  static final int MAX_ID_CHARS = 100;
  /** The command types, in the order the spec and the unknown-type error list them. */
  static final List<String> TYPES = Arrays.stream(FeedCommand.class.getAnnotation(JsonSubTypes.class).value())
      .map(JsonSubTypes.Type::name).toList();
  private static final Set<String> READ_ONLY_TYPES = Set.of("subscribe", "unsubscribe");
  private static final ObjectReader COMMANDS = JsonBodies.MAPPER.readerFor(FeedCommand.class);

  /** Reads a message's envelope; a text that is no JSON object is refused here, before it has an id. */
  static IncomingMessage read(String text) {
    JsonNode msg;
    try {
      msg = JsonBodies.MAPPER.readTree(text);
    } catch (Exception e) {
      throw ProblemException.of(ProblemType.BAD_REQUEST, "the message is not valid JSON");
    }
    if (msg == null || !msg.isObject()) throw ProblemException.of(ProblemType.BAD_REQUEST, "a message is a JSON object with a 'type'");
    String id = msg.hasNonNull("id") ? msg.get("id").asText() : null;
    return new IncomingMessage(id, msg.path("type").asText(""), (ObjectNode) msg);
  }

  /**
   * The command, for a key of {@code role}: a long id, then a read-only key's trading, then an
   * unknown type, then the command's own members are refused, in that order.
   */
  FeedCommand command(Role role) {
    if (id != null && id.length() > MAX_ID_CHARS) throw ProblemException.invalid("id", "a correlation id is at most " + MAX_ID_CHARS + " characters");
    if (role == Role.READ_ONLY && !READ_ONLY_TYPES.contains(type)) {
      throw ProblemException.of(ProblemType.FORBIDDEN, "a read-only key can subscribe to books but not change asks or capacity");
    }
    if (!TYPES.contains(type)) {
      throw ProblemException.invalid("type", type.isEmpty() ? "a message needs a 'type'" : "unknown message type '" + type + "'; known: " + String.join(", ", TYPES));
    }
    try {
      return COMMANDS.readValue(members);
    } catch (IOException e) {
      throw problem(e);
    }
  }

  /**
   * What a member that cannot be decoded is told: a command's own member its rule, any other the
   * words of an HTTP body ({@link JsonBodies#parse}), naming a post_ask's member without {@code ask.},
   * as if the ask were a body of its own.
   */
  private static ProblemException problem(IOException e) {
    if (e instanceof UnrecognizedPropertyException u) {
      String field = inAsk(path(u));
      // ask_id names the ask an amend_ask changes; the known members are the terms it may change.
      String known = u.getKnownPropertyIds().stream().map(Object::toString).filter(m -> !m.equals("ask_id")).sorted()
          .collect(Collectors.joining(", "));
      return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, "unknown member '" + u.getPropertyName() + "'; known members: " + known)
          .withField(field.isEmpty() ? u.getPropertyName() : field));
    }
    if (e instanceof InputCoercionException c) {
      String path = c.getProcessor() == null ? "" : path(c.getProcessor().getParsingContext());
      String rule = FeedCommand.MEMBER_RULES.get(path);
      if (rule != null) return ProblemException.invalid(path, rule);
      String field = inAsk(path);
      return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, (field.isEmpty() ? "a number" : "'" + field + "'") + " is out of range")
          .withField(field.isEmpty() ? null : field));
    }
    if (e instanceof JsonMappingException m) {
      String path = path(m);
      String field = inAsk(path);
      if (m.getCause() instanceof ProblemException p) return p;
      if (m.getCause() instanceof InvalidField f) return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, f.getMessage()).withField(f.field()));
      if (m.getCause() instanceof IllegalArgumentException iae) {
        return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, iae.getMessage()).withField(field.isEmpty() ? null : field));
      }
      boolean wrongType = m instanceof MismatchedInputException || m.getCause() instanceof InputCoercionException;
      String rule = FeedCommand.MEMBER_RULES.get(path);
      if (wrongType && rule != null) return ProblemException.invalid(path, rule);
      if (m.getCause() instanceof InputCoercionException && !field.isEmpty()) {
        return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, "'" + field + "' is out of range").withField(field));
      }
      if (m instanceof MismatchedInputException && !field.isEmpty()) {
        return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, "'" + field + "' has the wrong type or is missing").withField(field));
      }
      return ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON for this request: " + m.getOriginalMessage());
    }
    if (e instanceof JsonProcessingException p) return ProblemException.of(ProblemType.BAD_REQUEST, "the body is not valid JSON: " + p.getOriginalMessage());
    throw new UncheckedIOException("decoding a message already read does no I/O", e);
  }

  /** A path inside a post_ask's ask as the ask's own ("ask.price_per_mtok" is "price_per_mtok"); other paths as they are. */
  private static String inAsk(String path) {
    if (path.equals("ask")) return "";
    return path.startsWith("ask.") ? path.substring("ask.".length()) : path;
  }

  /** The dotted path of a member ("ask.compliance_tags.[0]"). */
  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."));
  }

  private static String path(JsonStreamContext ctx) {
    Deque<String> names = new ArrayDeque<>();
    for (JsonStreamContext c = ctx; c != null; c = c.getParent()) {
      if (c.inObject() && c.getCurrentName() != null) names.addFirst(c.getCurrentName());
      else if (c.inArray()) names.addFirst("[" + Math.max(0, c.getCurrentIndex()) + "]");
    }
    return String.join(".", names);
  }
}
