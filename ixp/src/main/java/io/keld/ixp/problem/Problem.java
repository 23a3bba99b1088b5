package io.keld.ixp.problem;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An RFC 9457 problem detail: the body of every error Keld answers with
 * ({@code Content-Type: application/problem+json}).
 *
 * @param type       a stable URI that names the kind of error; clients branch on it
 * @param title      a short, fixed summary of the type
 * @param status     the HTTP status code
 * @param detail     what went wrong with this request, in words a person can act on
 * @param instance   the request path the problem occurred on
 * @param field      the offending input field, when one is to blame (a Keld extension member)
 * @param extensions further members of this type (RFC 9457 §3.2), e.g. the cap a budget refusal
 *                   names; written at the top level of the JSON object
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(
    String type, String title, int status, String detail, String instance, String field,
    @JsonIgnore Map<String, Object> extensions) {

  public static final String MEDIA_TYPE = "application/problem+json";

  public Problem {
    if (type == null || type.isBlank()) throw new IllegalArgumentException("a problem needs a type");
    if (status < 400 || status > 599) throw new IllegalArgumentException("a problem has a 4xx or 5xx status");
    extensions = extensions == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extensions));
  }

  public static Problem of(ProblemType type, String detail) {
    return new Problem(type.uri(), type.title(), type.status(), detail, null, null, Map.of());
  }

  public Problem withInstance(String path) {
    return new Problem(type, title, status, detail, path, field, extensions);
  }

  public Problem withField(String offendingField) {
    return new Problem(type, title, status, detail, instance, offendingField, extensions);
  }

  /** This problem with one more extension member (insertion order is kept in the JSON). */
  public Problem with(String member, Object value) {
    Map<String, Object> more = new LinkedHashMap<>(extensions);
    more.put(member, value);
    return new Problem(type, title, status, detail, instance, field, more);
  }

  @JsonAnyGetter
  Map<String, Object> extensionMembers() {
    return extensions;
  }
}
