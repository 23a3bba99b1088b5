package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;

/**
 * A bid cleared against an ask: the job pays the ask's price, and the ask's schedule reserves
 * [{@code startMillis}, {@code finishMillis}) for the tokens.
 *
 * @param bestCompetingPricePerMtok the lowest price among the other feasible asks, or null if none
 * @param feasibleAsks              how many asks were feasible, the winner included
 * @param ruleVersion               the MATCHING.md version that cleared it
 */
public record Fill(
    String fillId,
    String bidId,
    String askId,
    String providerId,
    String model,
    long pricePerMtok,
    long tokens,
    long startMillis,
    long finishMillis,
    long deadlineMillis,
    long filledAtMillis,
    Long bestCompetingPricePerMtok,
    int feasibleAsks,
    String ruleVersion)
    implements CborSerializable {}
