package io.keld.marketplace.book;

import java.util.List;

/**
 * How rules 1-3 would clear a bid at one moment ({@link OrderBookCore#clearing}): the best feasible
 * asks in priority order, at most {@link MatchingRules#FEASIBLE_COUNT_CAP} of them. The first is
 * where the bid fills; the second's price is the fill's {@code bestCompetingPricePerMtok}.
 */
public record Clearing(List<Candidate> best) {

  /** A feasible ask, its priority terms (rule 2) and the slot it would give the bid (rule 1). */
  public record Candidate(String askId, String providerId, String model, long pricePerMtok, int quality, long askTimeMillis,
      long startMillis, long finishMillis) {

    /** Whether rule 2 ranks the two equally up to its last tie-break, the ask id. */
    public boolean tiesWith(Candidate other) {
      return pricePerMtok == other.pricePerMtok && quality == other.quality && askTimeMillis == other.askTimeMillis;
    }
  }

  public int feasibleAsks() {
    return best.size();
  }

  public Long bestCompetingPricePerMtok() {
    return best.size() > 1 ? best.get(1).pricePerMtok() : null;
  }
}
