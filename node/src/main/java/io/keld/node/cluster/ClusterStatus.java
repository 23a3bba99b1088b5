package io.keld.node.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.GetClusterShardingStats;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * What an operator asks of a cluster: its members and their status, which node hosts which shards
 * of each entity type and how many entities, and which node hosts each order book. Read from this
 * node's view of the membership and from the shard coordinators (one round trip per entity type).
 */
public final class ClusterStatus {

  /** One member as this node sees it. */
  public record MemberView(String address, String status, List<String> roles, String appVersion, boolean reachable, boolean oldest) {}

  /** One node's share of an entity type. */
  public record Hosting(int shards, int entities) {}

  /**
   * The whole answer; {@code books} maps each use case to the address of the node that hosts its
   * book, where it is started. An entity type whose coordinator did not answer in time is missing
   * from {@code sharding}.
   */
  public record View(String self, String leader, List<MemberView> members, Map<String, Map<String, Hosting>> sharding, Map<String, String> books) {}

  private final ActorSystem<?> system;
  private final List<EntityTypeKey<?>> types;
  private final EntityTypeKey<?> bookType;
  private final List<String> useCases;
  private final int numberOfShards;

  /**
   * @param bookType the order books' entity type, whose entity ids are the use cases
   * @param numberOfShards {@code pekko.cluster.sharding.number-of-shards}: the default extractor maps an id to a shard with it
   */
  public ClusterStatus(ActorSystem<?> system, List<EntityTypeKey<?>> types, EntityTypeKey<?> bookType, List<String> useCases, int numberOfShards) {
    this.system = system;
    this.types = List.copyOf(types);
    this.bookType = bookType;
    this.useCases = List.copyOf(useCases);
    this.numberOfShards = numberOfShards;
  }

  public CompletionStage<View> view(Duration timeout) {
    Cluster cluster = Cluster.get(system);
    ClusterEvent.CurrentClusterState state = cluster.state();
    Member oldest = null;
    for (Member m : state.getMembers()) {
      if (m.status().equals(org.apache.pekko.cluster.MemberStatus.up()) && (oldest == null || m.isOlderThan(oldest))) oldest = m;
    }
    List<MemberView> members = new ArrayList<>();
    for (Member m : state.getMembers()) {
      members.add(new MemberView(m.address().toString(), m.status().toString(), new ArrayList<>(asJava(m)), m.appVersion().version(),
          !state.getUnreachable().contains(m), m.equals(oldest)));
    }
    String leader = state.getLeader() == null ? null : state.getLeader().toString();

    Map<String, Map<String, Hosting>> sharding = new TreeMap<>();
    List<CompletableFuture<Void>> asks = new ArrayList<>();
    Map<String, String> books = new TreeMap<>();
    for (EntityTypeKey<?> type : types) {
      CompletableFuture<Void> done = AskPattern.<org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery, ShardRegion.ClusterShardingStats>ask(
              ClusterSharding.get(system).shardState(),
              replyTo -> new GetClusterShardingStats(type, timeout, replyTo), timeout.plusSeconds(1), system.scheduler())
          .thenAccept(stats -> {
            Map<String, Hosting> byNode = new TreeMap<>();
            stats.getRegions().forEach((Address address, ShardRegion.ShardRegionStats region) -> {
              int entities = region.getStats().values().stream().mapToInt(n -> ((Number) n).intValue()).sum();
              byNode.put(address.toString(), new Hosting(region.getStats().size(), entities));
              if (type.equals(bookType)) {
                for (String useCase : useCases) {
                  if (region.getStats().containsKey(shardOf(useCase))) books.put(useCase, address.toString());
                }
              }
            });
            synchronized (sharding) {
              sharding.put(type.name(), byNode);
            }
          })
          // A type whose coordinator does not answer in time (it is moving after a crash) is left out.
          .exceptionally(unanswered -> null)
          .toCompletableFuture();
      asks.add(done);
    }
    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
        .thenApply(x -> new View(cluster.selfMember().address().toString(), leader, members, sharding, books));
  }

  /** The shard the default message extractor puts an entity in. */
  String shardOf(String entityId) {
    return Integer.toString(Math.abs(entityId.hashCode()) % numberOfShards);
  }

  private static java.util.Set<String> asJava(Member m) {
    return m.getRoles();
  }
}
