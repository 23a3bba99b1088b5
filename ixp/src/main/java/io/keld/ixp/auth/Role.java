package io.keld.ixp.auth;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * What an API key may do. A key has exactly one role; the operator role belongs to keys of the
 * operator organization only, the provider role to keys of provider organizations.
 *
 * <ul>
 *   <li>{@code operator}: everything, across every organization (runs the Keld nodes);</li>
 *   <li>{@code admin}: manages its organization: teams, projects, keys, budgets, reads the audit log;</li>
 *   <li>{@code member}: uses what is in its scope (reserves budget, submits jobs) and reads it;</li>
 *   <li>{@code read-only}: reads what is in its scope, changes nothing;</li>
 *   <li>{@code provider}: trades for its provider organization (asks, feed); reads its organization.</li>
 * </ul>
 */
public enum Role {
  OPERATOR("operator"),
  ADMIN("admin"),
  MEMBER("member"),
  READ_ONLY("read-only"),
  PROVIDER("provider");

  private final String wire;

  Role(String wire) {
    this.wire = wire;
  }

  /** The name used on the wire and in the database. */
  @JsonValue
  public String wire() {
    return wire;
  }

  /** Parses a wire name; {@code null} when it is not a role. */
  @JsonCreator
  public static Role fromWire(String name) {
    if (name == null) return null;
    String n = name.trim().toLowerCase(Locale.ROOT);
    for (Role r : values()) {
      if (r.wire.equals(n)) return r;
    }
    return null;
  }
}
