package io.keld.atlas.budget;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a budget scope is. */
public enum ScopeKind {
  TEAM,
  PROJECT;

  @JsonValue
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  public static ScopeKind fromWire(String s) {
    return valueOf(s.trim().toUpperCase(Locale.ROOT));
  }
}
