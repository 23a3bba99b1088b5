package io.keld.trade;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.keld.testkit.ApiClient;
import io.keld.testkit.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code /trade/v1} over real HTTP on Trade as a node runs it: endpoints, models, asks, the book view; the master key. */
class TradeApiTest {

  private static final String SECRET = "sk-live-CANARY-credential-wxyz";

  @Test
  void aProviderRegistersAnEndpointAndAModelThenPostsMovesAndWithdrawsAnAsk() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      TradeNode node = TradeNode.startReady(TradeNode.config(db));
      try {
        ApiClient api = new ApiClient(node);
        String operator = node.bootstrapKey().orElseThrow().secret();
        String provider = providerKey(api, operator, "Swift Inference", "provider");
        String otherProvider = providerKey(api, operator, "Other Inference", "provider");
        String readOnly = providerKeyFor(api, operator, orgOf(api, provider), "read-only");
        String enterpriseOrg = api.expect(201, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"Acme\",\"kind\":\"enterprise\"}").id();
        String enterprise = api.expect(201, "POST", "/atlas/v1/orgs/" + enterpriseOrg + "/keys", operator, "{\"name\":\"e\",\"role\":\"admin\"}")
            .json().path("key").asText();

        // The endpoint: its credential goes in, and never comes out over the API.
        ApiClient.Response created = api.expect(201, "POST", "/trade/v1/endpoints", provider,
            "{\"name\":\"main\",\"base_url\":\"https://api.swift.example/v1\",\"credential\":\"" + SECRET + "\"}");
        String endpointId = created.id();
        assertFalse(created.text().contains(SECRET));
        assertEquals("wxyz", created.json().path("credential_hint").asText());
        assertTrue(created.json().path("has_credential").asBoolean());
        assertFalse(api.expect(200, "GET", "/trade/v1/endpoints", provider, null).text().contains(SECRET));
        assertEquals(SECRET, node.trade().providers().credential(endpointId).toCompletableFuture().get(10, TimeUnit.SECONDS).orElseThrow(),
            "the data plane can still read it");
        assertOnlyCiphertextStored(db);
        api.expect(404, "GET", "/trade/v1/endpoints/" + endpointId, otherProvider, null);
        api.expect(409, "POST", "/trade/v1/endpoints", provider, "{\"name\":\"main\",\"base_url\":\"https://other.example/v1\"}");
        ApiClient.Response second = api.expect(201, "POST", "/trade/v1/endpoints", provider,
            "{\"name\":\"short\",\"base_url\":\"https://x.example/v1\",\"credential\":\"abc\"}");
        assertTrue(second.json().path("credential_hint").isMissingNode(), "a short credential gets no hint");

        // The model and its use cases, then an ask on one of them.
        api.expect(200, "PUT", "/trade/v1/models/swift-8b", provider, "{\"use_cases\":[\"summarize\",\"chat\"],\"regions\":[\"eu\"]}");

        // With several endpoints a model names the one that serves it; without endpoint_id, the first one serves it.
        String providerOrg = orgOf(api, provider);
        assertEquals(endpointId, node.trade().directory().route(providerOrg, "swift-8b").toCompletableFuture().get(10, TimeUnit.SECONDS)
            .endpoint().id());
        String big = "{\"use_cases\":[\"chat\"],\"endpoint_id\":\"" + second.id() + "\"}";
        assertEquals(second.id(), api.expect(200, "PUT", "/trade/v1/models/swift-70b", provider, big).json().path("endpoint_id").asText());
        assertEquals(second.id(), node.trade().directory().route(providerOrg, "swift-70b").toCompletableFuture().get(10, TimeUnit.SECONDS)
            .endpoint().id());
        assertField(api.expect(422, "PUT", "/trade/v1/models/swift-70b", otherProvider, big), "endpoint_id");
        api.expect(409, "DELETE", "/trade/v1/endpoints/" + second.id(), provider, null);
        ApiClient.Response ask = api.expect(201, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"swift-8b\",\"use_case\":\"summarize\",\"price_per_mtok\":300000,\"quality\":80,\"throughput_tps\":5000,\"max_concurrency\":16}");
        String askId = ask.id();
        assertEquals("open", ask.json().path("state").asText());
        assertEquals("eu", ask.json().path("region").asText());
        JsonNode book = api.expect(200, "GET", "/trade/v1/books/summarize", provider, null).json();
        assertEquals(300_000, book.path("asks").get(0).path("price_per_mtok").asLong());
        assertFalse(book.toString().contains("org_"), "the book view names no organization");

        // Moving the price moves the level; the list shows the ask as it is now.
        api.expect(200, "PATCH", "/trade/v1/asks/" + askId, provider, "{\"price_per_mtok\":250000}");
        assertEquals(250_000, api.expect(200, "GET", "/trade/v1/books/summarize", provider, null).json().path("asks").get(0).path("price_per_mtok").asLong());
        JsonNode mine = api.expect(200, "GET", "/trade/v1/asks?state=open", provider, null).json().path("data");
        assertEquals(1, mine.size());
        assertEquals(250_000, mine.get(0).path("price_per_mtok").asLong());

        // Bad requests change nothing and say why.
        assertField(api.expect(422, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"swift-8b\",\"use_case\":\"embed\",\"price_per_mtok\":1,\"throughput_tps\":1}"), "use_case");
        assertField(api.expect(422, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"swift-8b\",\"use_case\":\"astrology\",\"price_per_mtok\":1,\"throughput_tps\":1}"), "use_case");
        assertField(api.expect(422, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"unregistered\",\"use_case\":\"chat\",\"price_per_mtok\":1,\"throughput_tps\":1}"), "model");
        assertField(api.expect(422, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"swift-8b\",\"use_case\":\"chat\",\"price_per_mtok\":-5,\"throughput_tps\":1}"), "price_per_mtok");
        assertField(api.expect(422, "POST", "/trade/v1/asks", provider,
            "{\"model\":\"swift-8b\",\"use_case\":\"chat\",\"price_per_mtok\":5,\"throughput_tps\":1,\"region\":\"us\"}"), "region");
        api.expect(400, "POST", "/trade/v1/asks", provider, "{\"model\":");
        api.expect(422, "POST", "/trade/v1/asks", provider, "{\"model\":\"swift-8b\",\"use_case\":\"chat\",\"price_per_mtok\":\"cheap\",\"throughput_tps\":1}");
        api.expect(404, "PATCH", "/trade/v1/asks/" + askId, otherProvider, "{\"price_per_mtok\":1}");
        api.expect(404, "DELETE", "/trade/v1/asks/" + askId, otherProvider, null);
        api.expect(403, "POST", "/trade/v1/asks", readOnly,
            "{\"model\":\"swift-8b\",\"use_case\":\"chat\",\"price_per_mtok\":5,\"throughput_tps\":1}");
        api.expect(403, "GET", "/trade/v1/asks", enterprise, null);
        api.expect(401, "GET", "/trade/v1/asks", null, null);
        assertEquals(1, api.expect(200, "GET", "/trade/v1/asks", provider, null).json().path("data").size());
        assertEquals(1, api.expect(200, "GET", "/trade/v1/books/summarize", readOnly, null).json().path("asks").size());

        // Withdrawn: off the book, still in the provider's list as withdrawn; withdrawing again is harmless.
        assertEquals("withdrawn", api.expect(200, "DELETE", "/trade/v1/asks/" + askId, provider, null).json().path("state").asText());
        api.expect(200, "DELETE", "/trade/v1/asks/" + askId, provider, null);
        assertEquals(0, api.expect(200, "GET", "/trade/v1/books/summarize", provider, null).json().path("asks").size());
        api.expect(409, "PATCH", "/trade/v1/asks/" + askId, provider, "{\"price_per_mtok\":1}");
      } finally {
        node.stopAndAwait();
      }
    }
  }

  @Test
  void aNodeStartedWithAnotherMasterKeyRefusesToStartAndSaysWhy() throws Exception {
    Path dir = Files.createTempDirectory("keld-master-key");
    Path keyFile = dir.resolve("master.key");
    try (TestDatabase db = TestDatabase.h2(dir)) {
      Config config = TradeNode.config(db).withValue("keld.trade.master-key-file", ConfigValueFactory.fromAnyRef(keyFile.toString()));
      TradeNode first = TradeNode.startReady(config);
      first.stopAndAwait();
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)), "the generated key file is its owner's alone");

      Files.writeString(keyFile, Base64.getEncoder().encodeToString(new byte[32]) + "\n");
      IllegalStateException refused = assertThrows(IllegalStateException.class, () -> TradeNode.start(config));
      assertTrue(refused.getMessage().contains("master key") && refused.getMessage().contains(keyFile.toString()), refused.getMessage());

      Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-r--r--"));
      IllegalStateException exposed = assertThrows(IllegalStateException.class, () -> TradeNode.start(config));
      assertTrue(exposed.getMessage().contains("chmod 600"), exposed.getMessage());
    }
  }

  private static void assertOnlyCiphertextStored(TestDatabase db) throws Exception {
    try (Connection c = db.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM trade_endpoints")) {
      while (rs.next()) {
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
          String v = rs.getString(i);
          assertFalse(v != null && v.contains("CANARY"), "column " + rs.getMetaData().getColumnName(i) + " holds the credential in clear");
        }
        assertTrue(rs.getString("credential_cipher").startsWith("v1."));
      }
    }
  }

  private static void assertField(ApiClient.Response r, String field) {
    assertEquals(field, r.json().path("field").asText(), r.text());
    assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
  }

  private static String providerKey(ApiClient api, String operator, String name, String role) {
    String org = api.expect(201, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"" + name + "\",\"kind\":\"provider\"}").id();
    return providerKeyFor(api, operator, org, role);
  }

  private static String providerKeyFor(ApiClient api, String operator, String org, String role) {
    return api.expect(201, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"k-" + role + "\",\"role\":\"" + role + "\"}")
        .json().path("key").asText();
  }

  private static String orgOf(ApiClient api, String key) {
    return api.expect(200, "GET", "/atlas/v1/me", key, null).json().path("org_id").asText();
  }
}
