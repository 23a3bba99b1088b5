package io.keld.exchange.ixp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.WireMoney;
import io.keld.kit.JsonBodies;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A finished real-time job (one request on the OpenAI edge, one provider leg): the few facts its
 * resource is made of. The job index stores these instead of the resource, whose JSON repeats them
 * (the leg twice, a timeline of three entries, links) at about five times the size; on the edge's
 * busiest path that was most of the bytes PostgreSQL wrote per request. {@link #resource()} is the
 * one way the resource is built from them, for the job as it is served and as it is read back.
 *
 * @param ceilingPerMtok micro-USD per million tokens, as the request allowed
 * @param pricePerMtok   micro-USD per million tokens, as the provider is paid
 * @param reason         why the job ended as it did, or null
 */
public record RealtimeJob(String id, String orgId, String teamId, String projectId, String useCase, String state, String reason,
    Set<String> models, long ceilingPerMtok, long estimatedTokens, Instant submittedAt, Instant deadline, Instant endedAt, String legKind,
    String providerId, String model, long pricePerMtok, long inputTokens, long outputTokens, long costMicroUsd) {

  /** The job as IXP shows it: admitted and started when received, then its end state. */
  public JobResource resource() {
    boolean answered = state.equals("completed");
    JobResource.Leg leg = new JobResource.Leg(1, legKind, providerId, model, WireMoney.usd(pricePerMtok), submittedAt, deadline,
        answered ? 1 : 0, answered ? 0 : 1, inputTokens, outputTokens, costMicroUsd, null);
    List<JobResource.TimelineEntry> timeline = List.of(
        new JobResource.TimelineEntry(submittedAt, "admitted", "admitted", null),
        new JobResource.TimelineEntry(submittedAt, "running", "started", null),
        new JobResource.TimelineEntry(endedAt, state, state, reason));
    return new JobResource(id, "job", true, state, reason, null, useCase, models, 0, WireMoney.usd(ceilingPerMtok), estimatedTokens,
        submittedAt, deadline, null, orgId, teamId, projectId, null, null, Map.of(), null, leg, List.of(leg),
        new JobResource.Progress(answered ? 1 : 0, answered ? 0 : 1, 0, inputTokens, outputTokens), costMicroUsd, 0, true, 0, 0, timeline,
        JobResources.links(id));
  }

  /**
   * Reads the stored form leniently: a member this release does not know (written by a later one, or
   * one since removed) is skipped, so a change to the facts never makes a stored row unreadable.
   */
  private static final ObjectReader STORED = JsonBodies.MAPPER.readerFor(Stored.class).without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Its usage record: the one leg, at the price paid; it becomes the job's spend-ledger record. */
  public JobUsageStore.UsageRecord usageRecord() {
    boolean answered = state.equals("completed");
    return new JobUsageStore.UsageRecord(id, 1, orgId, teamId, projectId, useCase, providerId, model, JobUsageStore.REALTIME, null, null, "{}",
        state, 1, answered ? 0 : 1, inputTokens, outputTokens, pricePerMtok, costMicroUsd, submittedAt, endedAt);
  }

  /** What the index row's columns do not already hold, as stored in {@code ixp_jobs.realtime_json}. */
  record Stored(String reason, Set<String> models, long ceilingPerMtok, long estimatedTokens, Instant submittedAt, Instant deadline,
      Instant endedAt, String legKind, String providerId, String model, long pricePerMtok, long inputTokens, long outputTokens,
      long costMicroUsd) {}

  /** The stored form (JSON, about 400 bytes). */
  String storedJson() {
    try {
      return JsonBodies.MAPPER.writeValueAsString(new Stored(reason, models, ceilingPerMtok, estimatedTokens, submittedAt, deadline, endedAt,
          legKind, providerId, model, pricePerMtok, inputTokens, outputTokens, costMicroUsd));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a real-time job always serializes", e);
    }
  }

  /**
   * Back from the row: its columns and its stored form. The submission time comes from the stored
   * form, not the column, which a database may keep at a coarser precision.
   */
  static RealtimeJob fromRow(String id, String orgId, String teamId, String projectId, String useCase, String state, String storedJson)
      throws JsonProcessingException {
    Stored s = STORED.readValue(storedJson);
    return new RealtimeJob(id, orgId, teamId, projectId, useCase, state, s.reason(), s.models(), s.ceilingPerMtok(), s.estimatedTokens(),
        s.submittedAt(), s.deadline(), s.endedAt(), s.legKind(), s.providerId(), s.model(), s.pricePerMtok(), s.inputTokens(),
        s.outputTokens(), s.costMicroUsd());
  }
}
