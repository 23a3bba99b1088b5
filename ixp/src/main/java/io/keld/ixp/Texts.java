package io.keld.ixp;

/** Client-supplied text as it may appear in an error message: never more than a short excerpt. */
public final class Texts {

  private static final int EXCERPT = 64;

  private Texts() {}

  /** The first 64 characters, with an ellipsis when there were more; "" for null. */
  public static String clip(String s) {
    if (s == null) return "";
    return clip(s, EXCERPT);
  }

  /** The first {@code max} characters, with an ellipsis when there were more; "" for null. */
  public static String clip(String s, int max) {
    if (s == null) return "";
    return s.length() > max ? s.substring(0, max) + "…" : s;
  }
}
