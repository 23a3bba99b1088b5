package io.keld.atlas.spend.ledger;

import java.util.Locale;
import java.util.Map;

/**
 * One name per provider, whatever the source called it: the GenAI semantic conventions' current
 * ({@code gen_ai.provider.name}) and older ({@code gen_ai.system}) values, LiteLLM's
 * {@code custom_llm_provider}, and the usage exports. Unknown names pass through lower-cased.
 */
public final class Providers {

  private static final Map<String, String> ALIASES = Map.ofEntries(
      Map.entry("az.ai.openai", "azure.openai"),
      Map.entry("azure.ai.openai", "azure.openai"),
      Map.entry("azure", "azure.openai"),
      Map.entry("azure_openai", "azure.openai"),
      Map.entry("az.ai.inference", "azure.ai.inference"),
      Map.entry("bedrock", "aws.bedrock"),
      Map.entry("aws_bedrock", "aws.bedrock"),
      Map.entry("vertex_ai", "gcp.vertex_ai"),
      Map.entry("vertexai", "gcp.vertex_ai"),
      Map.entry("gemini", "gcp.gemini"),
      Map.entry("google", "gcp.gemini"),
      Map.entry("mistral", "mistral_ai"),
      Map.entry("mistralai", "mistral_ai"),
      Map.entry("x_ai", "xai"),
      Map.entry("cohere_chat", "cohere"));

  private Providers() {}

  public static String normalize(String name) {
    if (name == null || name.isBlank()) return "unknown";
    String n = name.strip().toLowerCase(Locale.ROOT);
    return ALIASES.getOrDefault(n, n);
  }
}
