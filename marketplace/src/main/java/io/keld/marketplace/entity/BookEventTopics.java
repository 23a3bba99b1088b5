package io.keld.marketplace.entity;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.pubsub.Topic;

/**
 * This node's topic per book, where the book publishes what it persisted ({@link OrderBook.PersistedEvents})
 * and node-local replicas ({@link LocalBooks}) subscribe. The topics of one name on all nodes find
 * each other through the receptionist, so a replica hears its book wherever in the cluster it runs.
 *
 * <p>One long-lived topic actor per book and node, shared by the book and the replicas: a book that
 * restarts or moves publishes through a topic that already knows its subscribers.
 */
public final class BookEventTopics implements Extension {

  private static final ExtensionId<BookEventTopics> ID = new ExtensionId<>() {
    @Override
    public BookEventTopics createExtension(ActorSystem<?> system) {
      return new BookEventTopics(system);
    }
  };

  public static BookEventTopics get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final ActorSystem<?> system;
  private final ConcurrentHashMap<String, ActorRef<Topic.Command<OrderBook.PersistedEvents>>> topics = new ConcurrentHashMap<>();

  private BookEventTopics(ActorSystem<?> system) {
    this.system = system;
  }

  /** The topic of the book of {@code useCase} on this node. */
  public ActorRef<Topic.Command<OrderBook.PersistedEvents>> topic(String useCase) {
    return topics.computeIfAbsent(useCase, uc -> system.systemActorOf(
        Topic.create(OrderBook.PersistedEvents.class, "keld-book-events-" + uc),
        "book-events-" + URLEncoder.encode(uc, StandardCharsets.UTF_8),
        OrderBook.dispatcher(system)));
  }
}
