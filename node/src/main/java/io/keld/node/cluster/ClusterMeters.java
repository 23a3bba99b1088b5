package io.keld.node.cluster;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetShardRegionState;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Cluster and sharding meters on {@code /metrics}: members by status and unreachable members (as
 * this node sees them, read at scrape time), and per entity type the shards and entities this node
 * hosts and the shards that left it (a rebalance, a hand-over), read every few seconds from the
 * local shard region.
 */
public final class ClusterMeters {

  private static final List<MemberStatus> STATUSES = List.of(MemberStatus.joining(), MemberStatus.weaklyUp(), MemberStatus.up(),
      MemberStatus.leaving(), MemberStatus.exiting(), MemberStatus.down());

  private final ActorSystem<?> system;
  private final Map<String, AtomicInteger> shards = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> entities = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> hosted = new ConcurrentHashMap<>();
  private final Map<String, Counter> handedOff = new ConcurrentHashMap<>();

  public ClusterMeters(ActorSystem<?> system, MeterRegistry registry, List<EntityTypeKey<?>> types, Duration every) {
    this.system = system;
    Cluster cluster = Cluster.get(system);
    for (MemberStatus status : STATUSES) {
      String name = status.toString().toLowerCase(java.util.Locale.ROOT);
      Gauge.builder("keld.cluster.members", () -> count(cluster, status)).description("Cluster members in this status, as this node sees them")
          .tag("status", name).register(registry);
    }
    Gauge.builder("keld.cluster.unreachable.members", () -> cluster.state().getUnreachable().size())
        .description("Members this node's failure detector finds unreachable").register(registry);
    for (EntityTypeKey<?> type : types) {
      String name = type.name();
      shards.put(name, new AtomicInteger());
      entities.put(name, new AtomicInteger());
      hosted.put(name, Set.of());
      Gauge.builder("keld.sharding.shards", shards.get(name), AtomicInteger::get).description("Shards this node hosts")
          .tag("type", name).register(registry);
      Gauge.builder("keld.sharding.entities", entities.get(name), AtomicInteger::get).description("Entities running on this node")
          .tag("type", name).register(registry);
      handedOff.put(name, Counter.builder("keld.sharding.shards.handed.off").description("Shards that left this node (rebalance or hand-over)")
          .tag("type", name).register(registry));
      system.scheduler().scheduleAtFixedRate(every, every, () -> poll(type), system.executionContext());
    }
  }

  private static int count(Cluster cluster, MemberStatus status) {
    int n = 0;
    for (Member m : cluster.state().getMembers()) if (m.status().equals(status)) n++;
    return n;
  }

  private void poll(EntityTypeKey<?> type) {
    AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(ClusterSharding.get(system).shardState(),
            replyTo -> new GetShardRegionState(type, replyTo), Duration.ofSeconds(5), system.scheduler())
        .whenComplete((state, failure) -> {
          if (failure != null) return; // the region is not up yet, or shutting down: keep the last reading
          Set<String> now = new HashSet<>();
          int running = 0;
          for (ShardRegion.ShardState shard : state.getShards()) {
            now.add(shard.shardId());
            running += shard.getEntityIds().size();
          }
          Set<String> before = hosted.put(type.name(), now);
          if (before != null) for (String id : before) if (!now.contains(id)) handedOff.get(type.name()).increment();
          shards.get(type.name()).set(now.size());
          entities.get(type.name()).set(running);
        });
  }
}
