package io.keld.exchange.jobs;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.keld.atlas.budget.Refusal;
import io.keld.ixp.CborSerializable;
import java.util.List;

/** What happened to a job, persisted in order. Every transition records its time and, where there is one, its reason. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = JobEvent.Admitted.class, name = "Admitted"),
  @JsonSubTypes.Type(value = JobEvent.Reserved.class, name = "Reserved"),
  @JsonSubTypes.Type(value = JobEvent.Refused.class, name = "Refused"),
  @JsonSubTypes.Type(value = JobEvent.BidPlaced.class, name = "BidPlaced"),
  @JsonSubTypes.Type(value = JobEvent.Matched.class, name = "Matched"),
  @JsonSubTypes.Type(value = JobEvent.Started.class, name = "Started"),
  @JsonSubTypes.Type(value = JobEvent.MoveRequested.class, name = "MoveRequested"),
  @JsonSubTypes.Type(value = JobEvent.Rerouted.class, name = "Rerouted"),
  @JsonSubTypes.Type(value = JobEvent.Escalated.class, name = "Escalated"),
  @JsonSubTypes.Type(value = JobEvent.Progressed.class, name = "Progressed"),
  @JsonSubTypes.Type(value = JobEvent.Completed.class, name = "Completed"),
  @JsonSubTypes.Type(value = JobEvent.Cancelled.class, name = "Cancelled"),
  @JsonSubTypes.Type(value = JobEvent.Failed.class, name = "Failed"),
  @JsonSubTypes.Type(value = JobEvent.DeadlineMissed.class, name = "DeadlineMissed"),
  @JsonSubTypes.Type(value = JobEvent.Settled.class, name = "Settled"),
  @JsonSubTypes.Type(value = JobEvent.FillLogged.class, name = "FillLogged")
})
public sealed interface JobEvent extends CborSerializable {

  /**
   * Every job event carries this tag: the job read sides (the job index, job usage and its ledger
   * records) are a projection of the events with it ({@code exchange/.../projection/JobProjection}).
   */
  String TAG = "jobs";

  long atMillis();

  /** The job exists. {@code backup} may be null (none eligible); {@code escalateAtMillis} is when an unmatched bid gives up. */
  record Admitted(JobSpec spec, Backup backup, long escalateAtMillis, long atMillis) implements JobEvent {}

  /** Budget reserved on the project and team: {@code ceiling × estimated tokens}. */
  record Reserved(long amountMicroUsd, long atMillis) implements JobEvent {}

  /** A hard cap or token quota refused the reservation: the job ends here. */
  record Refused(Refusal refusal, long atMillis) implements JobEvent {}

  /** The first bid is on the book, resting until an ask can take it. */
  record BidPlaced(String bidId, long atMillis) implements JobEvent {}

  /** The book filled the job's bid: the price is confirmed. */
  record Matched(Leg leg, long atMillis) implements JobEvent {}

  /** Items started to flow. */
  record Started(long atMillis) implements JobEvent {}

  /**
   * The running work is about to look for another ask: recorded before the bid {@code bidId} is sent,
   * so a job that restarts before hearing the answer finds that bid and gives back what it filled.
   */
  record MoveRequested(String bidId, String reason, long tokens, long atMillis) implements JobEvent {}

  /** The remaining work moved to another ask (a new fill), for {@code reason}. */
  record Rerouted(Leg leg, String reason, long atMillis) implements JobEvent {}

  /** The work moved to the backup, for {@code reason}. */
  record Escalated(Leg leg, String reason, long atMillis) implements JobEvent {}

  /**
   * A data-plane report: items answered or failed per leg since the reporter's previous report.
   * {@code reporter} and {@code seq} make a report count once even if it is sent again.
   */
  record Progressed(String reporter, long seq, List<LegUsage> usage, int itemsOpen, boolean uploadFinished, long atMillis)
      implements JobEvent {}

  /** Counts of one leg in one report. */
  record LegUsage(int legNo, long answered, long failed, long inputTokens, long outputTokens, long failedAttempts)
      implements CborSerializable {}

  record Completed(long atMillis) implements JobEvent {}

  record Cancelled(String reason, long atMillis) implements JobEvent {}

  record Failed(String reason, String detail, long atMillis) implements JobEvent {}

  record DeadlineMissed(long atMillis) implements JobEvent {}

  /** Budget settled to the actual cost, fills released, usage records written: nothing is left to do. */
  record Settled(long costMicroUsd, long tokens, long atMillis) implements JobEvent {}

  /**
   * Where one of the job's fills is in its book's public log: the {@code seq} of its {@code Filled}
   * event, which names its signed receipt ({@code GET /ixp/v1/books/{book}/receipts/{seq}}).
   */
  record FillLogged(String fillId, String book, long seq, long atMillis) implements JobEvent {}
}
