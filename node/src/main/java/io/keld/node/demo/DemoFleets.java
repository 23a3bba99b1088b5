package io.keld.node.demo;

import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.node.KeldNode;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code keld start --demo}: a few simulated provider fleets inside the node, each registered with
 * Flow as an endpoint (its slots and token rate stated as its capacity) and posting asks on the
 * books of the use cases it serves, so a fresh node has a market to try.
 */
public final class DemoFleets {

  /** One demo provider: a fleet, the model it serves, and its asks (use case → price in micro-USD per Mtok). */
  record Spec(String providerId, String model, FleetSettings fleet, int quality, List<String> useCases, long pricePerMtok) {}

  static final List<Spec> SPECS = List.of(
      new Spec("prv_demo_swift", "sim-small", FleetSettings.healthy(16, 400, 50), 72, List.of("summarize", "classify", "chat"), 300_000),
      new Spec("prv_demo_sage", "sim-large", FleetSettings.healthy(8, 150, 200), 88, List.of("summarize", "chat", "code"), 1_200_000),
      new Spec("prv_demo_vector", "sim-embed", FleetSettings.healthy(32, 4_000, 10), 75, List.of("embed"), 20_000));

  /** A running demo fleet and what was posted for it. */
  public record Running(SimulatedProvider fleet, Spec spec, List<String> posted) {}

  private final List<Running> running;

  private DemoFleets(List<Running> running) {
    this.running = running;
  }

  /** Starts the fleets on free local ports, registers them with Flow and posts their asks. */
  public static DemoFleets start(KeldNode node) throws Exception {
    List<Running> out = new ArrayList<>();
    for (Spec spec : SPECS) {
      SimulatedProvider fleet = SimulatedProvider.start(node.system(), "127.0.0.1", 0, spec.providerId(), List.of(spec.model()), spec.fleet());
      long fleetTps = spec.fleet().slots() * spec.fleet().tokensPerSecond();
      node.flow().endpoint(new ProviderEndpoint(spec.providerId(), fleet.baseUrl(), null), new Capacity(spec.fleet().slots(), 0));
      List<String> posted = new ArrayList<>();
      for (String useCase : spec.useCases()) {
        // Stable ids: a restarted demo finds its asks already on the books instead of doubling them.
        String askId = "ask_" + spec.providerId().substring(4) + "_" + useCase;
        Ask ask = new Ask(askId, spec.providerId(), spec.model(), useCase, spec.pricePerMtok(), spec.quality(), fleetTps,
            spec.fleet().slots(), Ask.OPEN_FROM, Ask.OPEN_UNTIL, "local", Set.of("zdr"));
        BookResult result = node.books().submit(useCase, new BookOp.PostAsk(ask)).toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (result instanceof BookResult.Rejected r) {
          posted.add(useCase + (r.reason() == BookResult.Reason.DUPLICATE_ID ? " (already on the book)" : " (refused: " + r.detail() + ")"));
        } else {
          posted.add(useCase);
        }
      }
      out.add(new Running(fleet, spec, posted));
    }
    return new DemoFleets(out);
  }

  public List<Running> running() {
    return running;
  }

  /** What the demo started, for the terminal. */
  public String describe() {
    StringBuilder s = new StringBuilder("Demo provider fleets (simulated, OpenAI-compatible; change one with PUT <url>/admin/fleet):\n");
    for (Running r : running) {
      FleetSettings f = r.spec().fleet();
      s.append(String.format("  %-16s %-10s %s  %d slots x %d tok/s, $%.2f/Mtok, asks on %s%n", r.spec().providerId(), r.spec().model(),
          r.fleet().baseUrl(), f.slots(), f.tokensPerSecond(), r.spec().pricePerMtok() / 1e6, String.join(", ", r.posted())));
    }
    return s.toString();
  }
}
