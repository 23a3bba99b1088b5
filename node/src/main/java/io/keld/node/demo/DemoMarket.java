package io.keld.node.demo;

import io.keld.atlas.governance.Governance;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Organization;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.node.KeldNode;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import io.keld.sim.agent.MarketClock;
import io.keld.sim.agent.ProviderAgent;
import io.keld.sim.strategy.LoadCurve;
import io.keld.sim.strategy.PricingStrategy;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * {@code keld start --demo}'s living market: four provider organizations, each an agent with its own
 * simulated fleet, trading over the node's real HTTP API and WebSocket feed with a different strategy.
 * Their day runs {@link #SPEED} times faster than the clock (a day in four minutes, from 06:00), so
 * within a minute the summarize book's best price moves as Tidewater's fleet fills with its own
 * customers and with jobs, and the undercutter chases it; Nightowl's cheap ask comes for its three
 * off-peak hours (02:00 to 05:00) and goes. Jobs clear at whatever the book holds when they come.
 */
public final class DemoMarket implements AutoCloseable {

  /** The demo market's day runs this many times faster than the clock. */
  public static final double SPEED = 360;
  /** The market's day starts at this hour when the demo starts: its busy hours come first, its night after three minutes. */
  public static final double START_HOUR = 6;
  /** How often each agent looks at its fleet and the book. */
  public static final Duration DECIDE_EVERY = Duration.ofSeconds(2);

  /** One demo agent: its organization's name, its model and use cases, its fleet and its strategy. */
  record Spec(String orgName, String model, int quality, List<String> useCases, FleetSettings fleet, LoadCurve load, PricingStrategy strategy) {}

  static final List<Spec> SPECS = List.of(
      new Spec("Demo Tidewater", "sim-mid", 78, List.of("summarize", "chat"), FleetSettings.healthy(12, 300, 40),
          new LoadCurve(0.10, 0.85, 14), new PricingStrategy.UtilisationPrice(150_000, 330_000, 0.05)),
      new Spec("Demo Undercut", "sim-lite", 74, List.of("summarize", "classify"), FleetSettings.healthy(8, 300, 40),
          new LoadCurve(0.15, 0.70, 11), new PricingStrategy.Undercutter(120_000, 420_000, 300)),
      new Spec("Demo Nightowl", "sim-night", 76, List.of("summarize"), FleetSettings.healthy(16, 300, 40),
          new LoadCurve(0.05, 0.95, 15), new PricingStrategy.OffPeak(100_000, 2, 5)),
      new Spec("Demo Ledger", "sim-steady", 80, List.of("classify", "extract"), FleetSettings.healthy(8, 250, 60),
          new LoadCurve(0.20, 0.60, 13), new PricingStrategy.FixedPrice(350_000)));

  private final List<ProviderAgent> agents;

  private DemoMarket(List<ProviderAgent> agents) {
    this.agents = agents;
  }

  /** Creates (or finds) the demo provider organizations, starts their fleets and connects their agents to {@code node}. */
  public static DemoMarket start(KeldNode node) throws Exception {
    URI base = URI.create("http://127.0.0.1:" + node.httpAddress().getPort());
    MarketClock clock = new MarketClock(Clock.systemUTC(), START_HOUR, SPEED);
    List<ProviderAgent> agents = new ArrayList<>();
    try {
      for (Spec spec : SPECS) {
        String key = providerKey(node.governance(), spec.orgName());
        String name = spec.orgName().toLowerCase().replace(' ', '-');
        SimulatedProvider fleet = SimulatedProvider.start(node.system(), "127.0.0.1", 0, name, List.of(spec.model()), spec.fleet());
        try {
          agents.add(ProviderAgent.start(base, key, fleet, new ProviderAgent.Settings(name, spec.model(), spec.useCases(), spec.quality(),
              spec.strategy(), spec.load(), spec.fleet(), DECIDE_EVERY), clock));
        } catch (Exception e) {
          fleet.close();
          throw e;
        }
      }
    } catch (Exception e) {
      new DemoMarket(agents).close();
      throw e;
    }
    return new DemoMarket(agents);
  }

  public List<ProviderAgent> agents() {
    return agents;
  }

  /** What the demo market started, for the terminal. */
  public String describe() {
    StringBuilder s = new StringBuilder(String.format("Demo market agents (trading over the feed; their day runs %.0fx faster than the clock):%n", SPEED));
    for (ProviderAgent a : agents) {
      ProviderAgent.Settings st = a.settings();
      s.append(String.format("  %-15s %-10s %-12s on %s, fleet %s%n", st.name(), st.model(), st.strategy().kind(), String.join(", ", st.useCases()),
          a.fleet().baseUrl()));
    }
    return s.toString();
  }

  @Override
  public void close() {
    for (ProviderAgent a : agents) {
      a.close();
      a.fleet().close();
    }
  }

  /** A fresh provider key of the demo organization (created on first use; keys are shown once, so every start issues one). */
  private static String providerKey(Governance atlas, String orgName) {
    Organization org = get(atlas.tenancy().organizations(null, 1000)).stream()
        .filter(o -> o.name().equals(orgName) && o.kind() == OrgKind.PROVIDER).findFirst()
        .orElseGet(() -> get(atlas.tenancy().createOrganization(orgName, OrgKind.PROVIDER)));
    KeyStore.IssuedKey key = get(atlas.keys().issue(org.id(), null, null, Role.PROVIDER, "demo-agent", "demo"));
    return key.secret();
  }

  private static <T> T get(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the demo market could not be set up: " + e.getMessage(), e);
    }
  }
}
