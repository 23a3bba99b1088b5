package io.keld.atlas.budget;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Locale;

/** Calendar periods a budget resets on, in UTC: a day starts at 00:00Z, a month on its 1st at 00:00Z. */
public enum BudgetPeriod {
  DAY,
  MONTH;

  /** Start of the period that contains {@code epochMillis}. */
  public long startOf(long epochMillis) {
    LocalDate date = Instant.ofEpochMilli(epochMillis).atZone(ZoneOffset.UTC).toLocalDate();
    LocalDate start = this == DAY ? date : date.withDayOfMonth(1);
    return start.atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
  }

  /** End (exclusive) of the period that starts at {@code periodStartMillis}. */
  public long endOf(long periodStartMillis) {
    ZonedDateTime start = Instant.ofEpochMilli(periodStartMillis).atZone(ZoneOffset.UTC);
    return (this == DAY ? start.plusDays(1) : start.plusMonths(1)).toInstant().toEpochMilli();
  }

  @JsonValue
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses {@code day} or {@code month}; anything else is refused with a message saying so. */
  @JsonCreator
  public static BudgetPeriod fromWire(String s) {
    if (s == null) return null;
    for (BudgetPeriod p : values()) if (p.wire().equalsIgnoreCase(s.trim())) return p;
    throw new IllegalArgumentException("period must be 'day' or 'month', got '" + s + "'");
  }
}
