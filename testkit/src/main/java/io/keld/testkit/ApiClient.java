package io.keld.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Calls Keld's HTTP API (a node's, or a module's under test) as a client would: real HTTP, JSON bodies, a key in the Authorization header. */
public final class ApiClient {

  public static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  public record Response(int status, String contentType, JsonNode json, String text) {
    public String id() {
      return json.path("id").asText();
    }
  }

  private final String base;

  /** {@code base}: scheme, host and port, e.g. {@code http://127.0.0.1:8080}. */
  public ApiClient(String base) {
    this.base = base;
  }

  /** The API served on {@code address} (on the loopback interface). */
  public ApiClient(InetSocketAddress address) {
    this("http://127.0.0.1:" + address.getPort());
  }

  public ApiClient(HttpNode node) {
    this(node.httpAddress());
  }

  public Response call(String method, String path, String key, String jsonBody) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (key != null) b.header("Authorization", "Bearer " + key);
    if (jsonBody != null) {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(jsonBody));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    try {
      HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
      JsonNode json = null;
      try {
        json = r.body().isBlank() ? JSON.nullNode() : JSON.readTree(r.body());
      } catch (IOException notJson) {
        json = JSON.nullNode();
      }
      return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), json, r.body());
    } catch (IOException e) {
      throw new IllegalStateException(method + " " + path + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Calls and insists on the status; the failure message shows the body. */
  public Response expect(int status, String method, String path, String key, String jsonBody) {
    Response r = call(method, path, key, jsonBody);
    if (r.status() != status) {
      throw new AssertionError(method + " " + path + ": expected " + status + ", got " + r.status() + ": " + r.text());
    }
    return r;
  }
}
