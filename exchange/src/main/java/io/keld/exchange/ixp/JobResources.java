package io.keld.exchange.ixp;

import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.JobView;
import io.keld.ixp.jobs.JobResource;
import io.keld.ixp.jobs.WireMoney;
import java.util.List;

/** A job's entity view as the protocol shows it. */
public final class JobResources {

  private JobResources() {}

  public static JobResource of(JobView v) {
    List<JobResource.Leg> legs = v.legs().stream().map(JobResources::leg).toList();
    return new JobResource(v.jobId(), "job", false, v.state(), v.reason(), v.detail(), v.useCase(), v.models(), v.minQuality(),
        WireMoney.usd(v.ceilingPerMtok()), v.estimatedTokens(), v.submittedAt(), v.deadline(), v.escalateAt(), v.orgId(), v.teamId(),
        v.projectId(), v.jobCategory(), v.spendClass(), v.tags(), backup(v.backup()), v.match() == null ? null : leg(v.match()), legs,
        new JobResource.Progress(v.progress().itemsAnswered(), v.progress().itemsFailed(), v.progress().itemsOpen(),
            v.progress().inputTokens(), v.progress().outputTokens()),
        v.costMicroUsd(), v.settled() ? 0 : v.reservedMicroUsd(), v.settled(), v.escalations(), v.reroutes(),
        v.timeline().stream().map(t -> new JobResource.TimelineEntry(t.at(), t.state(), t.event(), t.reason())).toList(),
        links(v.jobId()));
  }

  public static JobResource.Links links(String jobId) {
    String self = "/ixp/v1/jobs/" + jobId;
    return new JobResource.Links(self, self + "/items", self + "/events");
  }

  public static JobResource.Backup backup(Backup b) {
    return b == null ? null : new JobResource.Backup(b.providerId(), b.model(), WireMoney.usd(b.pricePerMtok()), b.throughputTps(), b.source());
  }

  private static JobResource.Leg leg(JobView.LegView l) {
    return new JobResource.Leg(l.no(), l.kind(), l.providerId(), l.model(), WireMoney.usd(l.pricePerMtok()), l.startedAt(),
        l.promisedFinish(), l.itemsAnswered(), l.itemsFailed(), l.inputTokens(), l.outputTokens(), l.costMicroUsd(), l.receipt());
  }
}
