package io.keld.ixp.problem;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ProblemTest {

  private final ObjectMapper json = new ObjectMapper();

  @Test
  void extensionMembersAreWrittenAtTheTopLevel() throws Exception {
    Problem p = Problem.of(ProblemType.BAD_REQUEST, "nope").with("cap_micro_usd", 5L).with("scope", "team");
    JsonNode node = json.readTree(json.writeValueAsString(p));
    assertEquals(5L, node.get("cap_micro_usd").asLong());
    assertEquals("team", node.get("scope").asText());
    assertFalse(node.has("extensions"));
    assertFalse(node.has("field"), "absent members are left out");
    assertEquals(ProblemType.BAD_REQUEST.uri(), node.get("type").asText());
  }
}
