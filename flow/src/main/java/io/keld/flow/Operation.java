package io.keld.flow;

/** The OpenAI-compatible operations Flow can carry to a provider. */
public enum Operation {
  CHAT_COMPLETIONS("/chat/completions"),
  EMBEDDINGS("/embeddings");

  private final String path;

  Operation(String path) {
    this.path = path;
  }

  /** The path under the provider's base URL (which ends in {@code /v1}). */
  public String path() {
    return path;
  }
}
