package io.keld.atlas.governance;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.keld.testkit.ApiClient;
import io.keld.testkit.DatabaseScan;
import io.keld.testkit.TestDatabase;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * API keys on two nodes sharing PostgreSQL: a key works on every node, a revoked key is refused by
 * every node at once, and after all of it no table and no log line holds a key in clear.
 */
class ApiKeysTest {

  @Test
  void aRevokedKeyIsRefusedAtOnceOnEveryNodeAndNoKeyIsStoredOrLogged() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    root.addAppender(logs);
    List<String> secrets = new ArrayList<>();
    try (TestDatabase db = TestDatabase.postgres()) {
      GovernanceNode first = GovernanceNode.startReady(GovernanceNode.config(db, null));
      GovernanceNode second = null;
      try {
        second = GovernanceNode.startReady(GovernanceNode.config(db, List.of(first.clusterAddress().toString())));
        assertTrue(second.bootstrapKey().isEmpty(), "only the first node of a fresh database issues the bootstrap key");
        String operator = first.bootstrapKey().orElseThrow().secret();
        secrets.add(operator);
        ApiClient a = new ApiClient(first.httpAddress());
        ApiClient b = new ApiClient(second.httpAddress());

        String org = a.expect(201, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"Acme\",\"kind\":\"enterprise\"}").id();
        ApiClient.Response issued = a.expect(201, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"ci\",\"role\":\"admin\"}");
        String key = issued.json().path("key").asText();
        String keyId = issued.id();
        secrets.add(key);
        assertTrue(key.startsWith("keld_"), "keys carry a prefix secret scanners recognise: " + key.substring(0, 5));
        assertTrue(key.endsWith(issued.json().path("hint").asText()));

        // Shown once: listing and fetching never return it again.
        String listed = a.expect(200, "GET", "/atlas/v1/orgs/" + org + "/keys", key, null).text();
        assertFalse(listed.contains(key));
        assertFalse(listed.contains("\"key\""));

        // Valid on both nodes; a bad request carrying it is logged nowhere with it.
        b.expect(200, "GET", "/atlas/v1/orgs/" + org, key, null);
        a.expect(200, "GET", "/atlas/v1/me", key, null);
        b.expect(422, "POST", "/atlas/v1/orgs/" + org + "/teams", key, "{\"name\":\"\"}");
        a.expect(401, "GET", "/atlas/v1/me", key.substring(0, key.length() - 1) + "x", null);
        a.expect(401, "GET", "/atlas/v1/me", null, null);

        // Revoked through one node: the very next request through either node is refused.
        b.expect(204, "DELETE", "/atlas/v1/keys/" + keyId, operator, null);
        ApiClient.Response refusedA = a.call("GET", "/atlas/v1/me", key, null);
        ApiClient.Response refusedB = b.call("GET", "/atlas/v1/me", key, null);
        assertEquals(401, refusedA.status());
        assertEquals(401, refusedB.status());
        assertTrue(refusedA.contentType().startsWith("application/problem+json"));
        assertEquals(401, b.call("GET", "/atlas/v1/orgs/" + org, key, null).status());
        // A revoked admin key cannot revoke or issue anything either.
        assertEquals(401, a.call("POST", "/atlas/v1/orgs/" + org + "/keys", key, "{\"name\":\"x\",\"role\":\"member\"}").status());

        String listedAfter = a.expect(200, "GET", "/atlas/v1/orgs/" + org + "/keys", operator, null).text();
        assertTrue(listedAfter.contains("revoked_at"), "the listing shows the revocation: " + listedAfter);

        assertNoTableHolds(db, secrets);
      } finally {
        if (second != null) second.stop();
        first.stop();
        root.detachAppender(logs);
      }
    }
    assertFalse(logs.list.isEmpty(), "the nodes logged while running, so the check below means something");
    for (ILoggingEvent e : logs.list) {
      String line = e.getFormattedMessage() + (e.getThrowableProxy() != null ? ThrowableProxyUtil.asString(e.getThrowableProxy()) : "");
      for (String secret : secrets) {
        assertFalse(line.contains(secret) || line.contains(secret.substring(22)), "a log line holds a key: " + e.getLoggerName());
      }
    }
  }

  /** No table holds a key, nor the secret part of one (after {@code keld_<id>_}). */
  private static void assertNoTableHolds(TestDatabase db, List<String> secrets) throws Exception {
    List<String> needles = new ArrayList<>(secrets);
    secrets.forEach(secret -> needles.add(secret.substring(22)));
    List<String> hits = DatabaseScan.cellsHolding(db, needles, List.of("atlas_api_keys", "event_journal"));
    assertTrue(hits.isEmpty(), "tables hold a key in clear: " + hits);
  }
}
