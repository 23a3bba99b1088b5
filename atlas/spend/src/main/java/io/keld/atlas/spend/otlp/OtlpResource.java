package io.keld.atlas.spend.otlp;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Names an OpenTelemetry resource (the SDK instance that emitted telemetry: service, instance, host
 * ...) by its attributes, so a span and a metric point can be told to come from the same one. A
 * tracer and a meter provider set up from the same resource, as SDKs and Collectors do, get the same id.
 */
public final class OtlpResource {

  private OtlpResource() {}

  /** 32 hex digits of the SHA-256 of the attributes in key order (content attributes were dropped by the decoder). */
  public static String id(Map<String, String> attributes) {
    return digest(canonical(attributes));
  }

  /** A stable text form of attributes: sorted, each key and value length-prefixed so no separator can be forged. */
  static String canonical(Map<String, String> attributes) {
    StringBuilder b = new StringBuilder();
    for (Map.Entry<String, String> e : new TreeMap<>(attributes).entrySet()) {
      b.append(e.getKey().length()).append(':').append(e.getKey()).append(e.getValue().length()).append(':').append(e.getValue());
    }
    return b.toString();
  }

  static String digest(String text) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
