package io.keld.kit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.math.BigDecimal;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class JsonTest {

  record Sample(String teamId, Instant at) {}

  @Test
  void theHttpBodiesUseTheWireMapper() {
    assertSame(Json.WIRE, JsonBodies.MAPPER);
  }

  @Test
  void wireIsSnakeCaseWithIsoTimesAndStrict() throws Exception {
    assertEquals("{\"team_id\":\"t\",\"at\":\"2026-01-01T00:00:00Z\"}",
        Json.WIRE.writeValueAsString(new Sample("t", Instant.parse("2026-01-01T00:00:00Z"))));
    assertEquals("{\"team_id\":\"t\"}", Json.WIRE.writeValueAsString(new Sample("t", null)));
    assertThrows(JsonProcessingException.class, () -> Json.WIRE.readValue("{\"team_id\":5}", Sample.class));
    assertThrows(JsonProcessingException.class, () -> Json.WIRE.readValue("{\"team\":\"t\"}", Sample.class));
  }

  @Test
  void plainKeepsTheJsonsOwnNamesAndJacksonsLeniency() throws Exception {
    assertEquals("{\"teamId\":\"t\",\"at\":null}", Json.PLAIN.writeValueAsString(new Sample("t", null)));
    assertEquals("b", Json.PLAIN.readTree("{\"a\":\"x\",\"a\":\"b\"}").path("a").asText());
    assertTrue(Json.PLAIN.readTree("{\"cost\":0.1}").path("cost").isDouble());
  }

  @Test
  void exactRefusesDuplicatesAndKeepsDecimals() throws Exception {
    assertThrows(JsonProcessingException.class, () -> Json.EXACT.readTree("{\"a\":1,\"a\":2}"));
    var cost = Json.EXACT.readTree("{\"cost\":0.12345678901234567890123}").path("cost");
    assertTrue(cost.isBigDecimal());
    assertEquals(0, new BigDecimal("0.12345678901234567890123").compareTo(cost.decimalValue()));
  }
}
