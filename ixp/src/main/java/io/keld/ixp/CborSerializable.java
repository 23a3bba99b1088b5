package io.keld.ixp;

/**
 * Marker for every message that crosses the network between Keld nodes or is written to the event
 * journal. It is bound once, to Pekko's Jackson CBOR serializer, in this module's {@code reference.conf},
 * so every ActorSystem with keld-ixp on its classpath (a node, an entity test) has the binding.
 *
 * <p>It lives in {@code ixp} because that module sits at the bottom of the dependency graph, so every
 * other module can mark its commands, events and state with it.
 */
public interface CborSerializable {}
