package io.keld.node.cli;

import com.typesafe.config.ConfigFactory;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code keld sim-provider}: a simulated OpenAI-compatible provider fleet, in the foreground. */
@Command(
    name = "sim-provider",
    description = "Run a simulated OpenAI-compatible provider fleet (slots, token rate, time to first token, 429s, faults). "
        + "Change it at run time with PUT /admin/fleet; see counters at GET /admin/stats.")
public final class SimProviderCommand implements Callable<Integer> {

  @Option(names = "--port", paramLabel = "PORT", description = "HTTP port (default 9100).")
  int port = 9100;

  @Option(names = "--host", paramLabel = "HOST", description = "Interface to listen on (default 127.0.0.1).")
  String host = "127.0.0.1";

  @Option(names = "--name", paramLabel = "NAME", description = "Provider name, shown as owned_by in /v1/models (default simco).")
  String name = "simco";

  @Option(names = "--models", split = ",", paramLabel = "MODEL", description = "Models served (default sim-small,sim-large,sim-embed).")
  List<String> models = List.of("sim-small", "sim-large", "sim-embed");

  @Option(names = "--slots", paramLabel = "N", description = "Concurrent requests served; more are answered 429 (default 8).")
  int slots = 8;

  @Option(names = "--tokens-per-second", paramLabel = "N", description = "Output tokens per second per slot (default 200).")
  long tokensPerSecond = 200;

  @Option(names = "--ttft-ms", paramLabel = "MS", description = "Time to first token in milliseconds (default 150).")
  long ttftMs = 150;

  @Option(names = "--error-rate", paramLabel = "R", description = "Share of requests answered 500 (0..1, default 0).")
  double errorRate;

  @Option(names = "--stall-rate", paramLabel = "R", description = "Share of requests that stall (0..1, default 0).")
  double stallRate;

  @Option(names = "--stall-ms", paramLabel = "MS", description = "How long a stall lasts (default 5000).")
  long stallMs = 5_000;

  @Option(names = "--drop-rate", paramLabel = "R", description = "Share of connections dropped without an answer (0..1, default 0).")
  double dropRate;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    FleetSettings settings;
    try {
      settings = new FleetSettings(slots, tokensPerSecond, ttftMs, errorRate, stallRate, stallMs, dropRate);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "keld-sim",
        ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.actor.provider = local").withFallback(ConfigFactory.load()));
    SimulatedProvider fleet;
    try {
      fleet = SimulatedProvider.start(system, host, port, name, models, settings);
    } catch (RuntimeException e) {
      system.terminate();
      System.err.println("keld: " + e.getMessage());
      return 1;
    }
    System.out.printf("Simulated provider %s on %s  (%d slots x %d tokens/s, first token after %d ms; models %s)%n", name,
        fleet.baseUrl(), slots, tokensPerSecond, ttftMs, String.join(", ", models));
    System.out.printf("Change it: curl -X PUT http://%s:%d/admin/fleet -H 'Content-Type: application/json' -d '{\"slots\":4,\"tokens_per_second\":200,\"time_to_first_token_ms\":150,\"error_rate\":0,\"stall_rate\":0,\"stall_ms\":0,\"drop_rate\":0}'%n",
        host, fleet.port());
    for (String sig : List.of("TERM", "INT")) {
      Signal.handle(new Signal(sig), s -> new Thread(() -> {
        fleet.close();
        system.terminate();
      }).start());
    }
    system.getWhenTerminated().toCompletableFuture().join();
    System.out.println("Simulated provider stopped.");
    return 0;
  }
}
