package io.keld.sim.market;

/**
 * How one pricing served one job.
 *
 * @param costMicroUsd   what the buyer paid, every leg at its own price ({@link io.keld.ixp.Money})
 * @param finishMillis   when the last of its tokens was done ({@link Long#MAX_VALUE}: never)
 * @param onTime         finished by the deadline
 * @param marketTokens   tokens served by providers at market prices (Keld's fills, or the router's pick)
 * @param listTokens     tokens served at the list price (a backup, or the rate card)
 * @param escalated      some of its work went to the backup
 * @param rerouted       its work moved off a failed provider
 * @param firstPricePerMtok the price its work first cleared at (0: it never cleared on the market)
 */
public record JobOutcome(SimJob job, long costMicroUsd, long finishMillis, boolean onTime, long marketTokens, long listTokens,
    boolean escalated, boolean rerouted, long firstPricePerMtok) {}
