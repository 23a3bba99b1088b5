package io.keld.sim.market;

import java.util.Set;

/**
 * One job of the simulated day, as its buyer states it. {@code faultDraw} and {@code faultPoint} are
 * drawn with the workload, so every pricing sees the same provider fault on the same job.
 *
 * @param reference      the model the buyer would otherwise call at its list price
 * @param listPerMtok    the reference model's list price for this job's mix of input and output
 * @param ceilingPerMtok the most it pays on Keld, at or under the list price
 * @param models         the model allow-list (empty: any model of enough quality)
 * @param faultDraw      in [0, 1): the job's first provider fails when this is under the fault rate
 * @param faultPoint     in (0, 1): how far through its work the failure comes
 */
public record SimJob(String jobId, JobClass jobClass, ListedModel reference, long listPerMtok, long ceilingPerMtok, int minQuality,
    Set<String> models, long tokens, long arrivalMillis, long deadlineMillis, double faultDraw, double faultPoint) {

  public String useCase() {
    return jobClass.useCase();
  }

  public long leadMillis() {
    return deadlineMillis - arrivalMillis;
  }

  /** A backup at list price is the job's guarantee only when its ceiling allows it (the exchange's admission rule). */
  public boolean hasBackup() {
    return listPerMtok <= ceilingPerMtok;
  }
}
