package io.keld.atlas.spend;

import io.keld.atlas.spend.ledger.LatencyTolerance;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.ixp.auth.Principal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The one way usage from outside Keld enters the ledger, whatever its source: place each record
 * (mapping rules and the ingest key's scope), price it (price book where the source has no cost),
 * classify its latency tolerance, then append idempotently.
 */
public final class SpendIngest {

  /** A record as a source read it, with the attributes mapping rules may match on. */
  public record Incoming(UsageRecord record, Map<String, String> attributes) {}

  private final Ledger ledger;
  private final PriceBook prices;
  private final MappingRules rules;

  public SpendIngest(Ledger ledger, PriceBook prices, MappingRules rules) {
    this.ledger = ledger;
    this.prices = prices;
    this.rules = rules;
  }

  public CompletionStage<Ledger.Appended> ingest(Principal key, List<Incoming> incoming) {
    return rules.snapshot(key.orgId()).thenCompose(snapshot -> {
      List<UsageRecord> ready = new ArrayList<>(incoming.size());
      for (Incoming in : incoming) {
        UsageRecord r = in.record();
        MappingRules.place(r, key, in.attributes(), snapshot);
        prices.price(r);
        if (r.latencyClass == null) LatencyTolerance.classify(r);
        ready.add(r);
      }
      return ledger.append(ready);
    });
  }

  public Ledger ledger() {
    return ledger;
  }

  public PriceBook prices() {
    return prices;
  }

  public MappingRules rules() {
    return rules;
  }
}
