package io.keld.sim.market;

/**
 * A model with a published list price: the rate card a job is measured against.
 *
 * @param inputPerMtok  list price of input tokens, micro-USD per Mtok
 * @param outputPerMtok list price of output tokens, micro-USD per Mtok
 * @param quality       the quality score Keld's books use (0..100), an assumption stated in the report
 */
public record ListedModel(String provider, String model, long inputPerMtok, long outputPerMtok, int quality) {

  /** One price per token for a job whose tokens are {@code outputShare} output, rounded to the micro-dollar. */
  public long blendedPerMtok(double outputShare) {
    return Math.round(inputPerMtok * (1 - outputShare) + outputPerMtok * outputShare);
  }
}
