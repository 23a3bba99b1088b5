package io.keld.ixp.auth;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Who made a request: the API key that authenticated it and what that key is scoped to.
 *
 * @param keyId     the key's public id ({@code key_…}); never the secret
 * @param orgId     the organization the key belongs to
 * @param orgKind   {@code enterprise}, {@code provider} or {@code operator}
 * @param role      what the key may do
 * @param teamId    set when the key is scoped to one team (and its projects)
 * @param projectId set when the key is scoped to one project
 */
public record Principal(String keyId, String orgId, OrgKind orgKind, Role role, String teamId, String projectId) {

  public boolean isOperator() {
    return role == Role.OPERATOR;
  }

  /** Kinds of organization. */
  public enum OrgKind {
    ENTERPRISE("enterprise"),
    PROVIDER("provider"),
    OPERATOR("operator");

    private final String wire;

    OrgKind(String wire) {
      this.wire = wire;
    }

    @JsonValue
    public String wire() {
      return wire;
    }

    @JsonCreator
    public static OrgKind fromWire(String name) {
      for (OrgKind k : values()) {
        if (k.wire.equalsIgnoreCase(name == null ? "" : name.trim())) return k;
      }
      return null;
    }
  }
}
