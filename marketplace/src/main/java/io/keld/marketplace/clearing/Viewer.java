package io.keld.marketplace.clearing;

import java.util.Set;

/**
 * Who reads a book's public log, and so which identities it shows in clear: a provider sees its
 * own provider id, an enterprise the bids of its own jobs; everything else is a pseudonym.
 *
 * @param providerId the reading provider's id, or null
 * @param ownBidIds  the bids of the reader's own jobs among those the page mentions
 */
public record Viewer(String providerId, Set<String> ownBidIds) {

  /** Nobody in particular: every identity is a pseudonym. */
  public static final Viewer PUBLIC = new Viewer(null, Set.of());

  public Viewer {
    ownBidIds = ownBidIds == null ? Set.of() : Set.copyOf(ownBidIds);
  }

  public static Viewer provider(String providerId) {
    return new Viewer(providerId, Set.of());
  }

  public static Viewer enterprise(Set<String> ownBidIds) {
    return new Viewer(null, ownBidIds);
  }

  boolean seesProvider(String id) {
    return providerId != null && providerId.equals(id);
  }

  boolean seesBid(String id) {
    return ownBidIds.contains(id);
  }
}
