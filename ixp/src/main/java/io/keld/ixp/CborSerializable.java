package io.keld.ixp;

/**
 * Marker for every message that crosses the network between Keld nodes or is written to the event
 * journal. Each module with such messages (marketplace, trade, atlas governance, exchange) binds it to
 * Pekko's Jackson CBOR serializer in its own {@code reference.conf}, beside that serializer's jar, so
 * keld-ixp itself stays free of Pekko.
 *
 * <p>It lives in {@code ixp} because that module sits at the bottom of the dependency graph, so every
 * other module can mark its commands, events and state with it.
 */
public interface CborSerializable {}
