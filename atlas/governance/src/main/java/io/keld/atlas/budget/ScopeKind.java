package io.keld.atlas.budget;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** What a budget scope is. */
public enum ScopeKind {
  TEAM,
  PROJECT;

  @JsonValue
  public String wire() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  @JsonCreator
  public static ScopeKind fromWire(String s) {
    return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
  }
}
