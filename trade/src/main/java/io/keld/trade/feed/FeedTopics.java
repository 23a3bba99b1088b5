package io.keld.trade.feed;

import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.pubsub.Topic;

/**
 * The feed's cluster-wide topics: one per book ({@code trade-book-<use case>}, its deltas) and one
 * per provider organization ({@code trade-provider-<org>}, its fills and ask states). A book's
 * deltas are published on the node that hosts the book; every node's feed connections subscribe, so
 * a provider gets the same feed whichever node it connects to.
 */
public final class FeedTopics {

  private final ActorSystem<?> system;
  private final ConcurrentHashMap<String, ActorRef<Topic.Command<FeedEvent>>> topics = new ConcurrentHashMap<>();

  public FeedTopics(ActorSystem<?> system) {
    this.system = system;
  }

  public ActorRef<Topic.Command<FeedEvent>> book(String useCase) {
    return topic("trade-book-" + useCase);
  }

  public ActorRef<Topic.Command<FeedEvent>> provider(String orgId) {
    return topic("trade-provider-" + orgId);
  }

  private ActorRef<Topic.Command<FeedEvent>> topic(String name) {
    return topics.computeIfAbsent(name, n -> system.systemActorOf(Topic.create(FeedEvent.class, n), n, Props.empty()));
  }
}
