package io.keld.exchange.jobs;

import io.keld.ixp.CborSerializable;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A job as its owner sees it: state, match, price, provider, progress, cost so far, escalations and
 * the timeline. Built from the entity's state; holds no content.
 */
public record JobView(
    String jobId,
    String orgId,
    String state,
    String reason,
    String detail,
    String useCase,
    Set<String> models,
    int minQuality,
    long ceilingPerMtok,
    long estimatedTokens,
    Instant submittedAt,
    Instant deadline,
    Instant escalateAt,
    String teamId,
    String projectId,
    String jobCategory,
    String spendClass,
    Map<String, String> tags,
    Backup backup,
    LegView match,
    List<LegView> legs,
    ProgressView progress,
    long costMicroUsd,
    long reservedMicroUsd,
    boolean settled,
    int escalations,
    int reroutes,
    List<TimelineView> timeline)
    implements CborSerializable {

  /** One provider leg with what it did. */
  /** {@code receipt}: where the fill's signed receipt is ({@code /ixp/v1/books/{use_case}/receipts/{seq}}), null until known or for a backup. */
  public record LegView(int no, String kind, String providerId, String model, long pricePerMtok, String askId, String fillId,
      Instant startedAt, Instant promisedFinish, long itemsAnswered, long itemsFailed, long inputTokens, long outputTokens,
      long costMicroUsd, String receipt) implements CborSerializable {}

  public record ProgressView(long itemsAnswered, long itemsFailed, int itemsOpen, long inputTokens, long outputTokens)
      implements CborSerializable {}

  public record TimelineView(Instant at, String state, String event, String reason) implements CborSerializable {}

  public static JobView of(JobState s) {
    JobSpec spec = s.spec();
    List<LegView> legs = s.legs().stream().map(l -> {
      JobState.LegCounts c = s.counts(l.no());
      return new LegView(l.no(), l.kind(), l.providerId(), l.model(), l.pricePerMtok(), l.askId(), l.fillId(),
          Instant.ofEpochMilli(l.startedAtMillis()), Instant.ofEpochMilli(l.promisedFinishMillis()), c.answered(), c.failed(),
          c.inputTokens(), c.outputTokens(), s.legCostMicroUsd(l),
          s.fillLogSeq(l.fillId()) > 0 ? "/ixp/v1/books/" + spec.useCase() + "/receipts/" + s.fillLogSeq(l.fillId()) : null);
    }).toList();
    List<TimelineView> timeline = s.timeline().stream()
        .map(t -> new TimelineView(Instant.ofEpochMilli(t.atMillis()), t.state(), t.event(), t.reason())).toList();
    int escalations = (int) s.moves().stream().filter(m -> m.event().equals("escalated")).count();
    int reroutes = (int) s.moves().stream().filter(m -> m.event().equals("rerouted")).count();
    return new JobView(spec.jobId(), spec.orgId(), s.phase().wire(), s.reason(), s.detail(), spec.useCase(), spec.models(), spec.minQuality(),
        spec.ceilingPerMtok(), spec.estimatedTokens(), Instant.ofEpochMilli(spec.submittedAtMillis()),
        Instant.ofEpochMilli(spec.deadlineMillis()), Instant.ofEpochMilli(s.escalateAtMillis()), spec.teamId(), spec.projectId(),
        spec.jobCategory(), spec.spendClass(), spec.tags(), s.backup(), legs.isEmpty() ? null : legs.get(legs.size() - 1), legs,
        new ProgressView(s.itemsAnswered(), s.itemsFailed(), s.itemsOpen(), s.inputTokens(), s.outputTokens()), s.costMicroUsd(),
        s.reserved() ? s.reservedMicroUsdValue() : 0, s.settled(), escalations, reroutes, timeline);
  }
}
