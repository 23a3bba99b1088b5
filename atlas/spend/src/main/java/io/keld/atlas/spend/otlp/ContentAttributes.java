package io.keld.atlas.spend.otlp;

import java.util.List;
import java.util.Locale;

/**
 * Attributes that carry prompt or completion content (or tool arguments and results, which are
 * content too), by the GenAI semantic conventions current and older, OpenLLMetry, OpenInference and
 * LiteLLM. The decoder drops them as it reads a span, so they never reach mapping, logs or the
 * database. Anything that merely looks like content (a key ending in {@code .content},
 * {@code .messages}, {@code .prompt} ...) is dropped too: losing an attribute costs nothing, keeping
 * content would break a promise.
 */
public final class ContentAttributes {

  private static final List<String> PREFIXES = List.of(
      "gen_ai.prompt", "gen_ai.completion", "gen_ai.input.", "gen_ai.output.", "gen_ai.system_instructions",
      "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.definitions", "gen_ai.content.",
      "gen_ai.request.messages", "gen_ai.response.text", "gen_ai.choice", "gen_ai.user.message", "gen_ai.assistant.message",
      "llm.prompts", "llm.completions", "llm.input_messages", "llm.output_messages", "llm.prompt_template",
      "input.value", "output.value", "traceloop.entity.input", "traceloop.entity.output", "http.request.body", "http.response.body");
  private static final List<String> EXACT = List.of("messages", "prompt", "completion", "input", "output", "content", "text", "query");
  private static final List<String> SUFFIXES = List.of(
      ".content", ".contents", ".messages", ".message", ".prompt", ".prompts", ".completion", ".completions", ".text",
      ".input", ".output", ".arguments", ".body", ".query", ".instructions", ".system_prompt");

  private ContentAttributes() {}

  public static boolean isContent(String key) {
    String k = key.toLowerCase(Locale.ROOT);
    if (EXACT.contains(k)) return true;
    for (String p : PREFIXES) {
      if (k.startsWith(p)) return true;
    }
    for (String s : SUFFIXES) {
      if (k.endsWith(s)) return true;
    }
    return false;
  }
}
