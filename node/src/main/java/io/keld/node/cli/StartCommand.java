package io.keld.node.cli;

import com.typesafe.config.Config;
import io.keld.node.KeldNode;
import io.keld.node.demo.DemoFleets;
import io.keld.node.demo.DemoMarket;
import io.keld.node.demo.DemoTenancy;
import io.keld.node.config.KeldConfig;
import io.keld.kit.sql.KeldDatabase;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code keld start}: runs a node in the foreground until SIGTERM or Ctrl-C. */
@Command(
    name = "start",
    description = "Start a Keld node in the foreground. SIGTERM or Ctrl-C leaves the cluster and exits 0.")
public final class StartCommand implements Callable<Integer> {

  @Option(names = "--profile", paramLabel = "NAME|FILE",
      description = "Configuration profile: dev (embedded H2, the default), postgres, cluster-local-3, or a path to a .conf file.")
  String profile = KeldConfig.DEFAULT_PROFILE;

  @Option(names = "--http-port", paramLabel = "PORT", description = "Port of the Keld HTTP API (default 8080).")
  Integer httpPort;

  @Option(names = "--remote-port", paramLabel = "PORT", description = "Port for cluster traffic between nodes (default 2552).")
  Integer remotePort;

  @Option(names = "--management-port", paramLabel = "PORT", description = "Port of Pekko Management HTTP (default 8558).")
  Integer managementPort;

  @Option(names = "--otlp-port", paramLabel = "PORT",
      description = "Port of the OTLP/HTTP telemetry ingest, POST /v1/traces (default 4318; 0 switches it off).")
  Integer otlpPort;

  @Option(names = "--seed", split = ",", paramLabel = "HOST:PORT", defaultValue = "${env:KELD_SEED_NODES}",
      description = "Seed nodes to join, comma-separated; env KELD_SEED_NODES (default: the profile's, or form a cluster of one).")
  List<String> seeds;

  @Option(names = "--hostname", paramLabel = "HOST",
      description = "Host name or IP other nodes reach this one at; env KELD_CLUSTER_HOSTNAME (default 127.0.0.1).")
  String hostname;

  @Option(names = "--bind-hostname", paramLabel = "HOST",
      description = "Interface the cluster port listens on, when it differs from --hostname (a container's 0.0.0.0); env KELD_CLUSTER_BIND_HOSTNAME.")
  String bindHostname;

  @Option(names = "--http-interface", paramLabel = "HOST",
      description = "Interface the HTTP API (and OTLP ingest) listens on; env KELD_HTTP_INTERFACE (default 0.0.0.0).")
  String httpInterface;

  @Option(names = "--management-hostname", paramLabel = "HOST",
      description = "Address of Pekko Management HTTP (cluster status, read only); env KELD_MANAGEMENT_HOSTNAME (default 127.0.0.1).")
  String managementHostname;

  @Option(names = "--advertised-url", paramLabel = "URL",
      description = "The URL clients reach this node at (behind a load balancer, in a container); env KELD_ADVERTISED_URL.")
  String advertisedUrl;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the embedded database lives (default ./data).")
  Path dataDir;

  @Option(names = "--demo", description = "Also start a few simulated provider fleets that post asks, and provider agents that trade over the feed, "
          + "so there is a living market to try.")
  boolean demo;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** The settings without a field of their own in {@link KeldConfig.Overrides}: OTLP and addresses. */
  private Map<String, Object> extraSettings() {
    Map<String, Object> extra = new LinkedHashMap<>();
    if (otlpPort != null) {
      if (otlpPort == 0) extra.put("keld.otlp.enabled", false);
      else extra.put("keld.otlp.port", otlpPort);
    }
    if (hostname != null) extra.put("pekko.remote.artery.canonical.hostname", hostname);
    if (bindHostname != null) extra.put("pekko.remote.artery.bind.hostname", bindHostname);
    if (httpInterface != null) {
      extra.put("keld.http.interface", httpInterface);
      extra.put("keld.otlp.interface", httpInterface);
    }
    if (managementHostname != null) extra.put("pekko.management.http.hostname", managementHostname);
    if (advertisedUrl != null) extra.put("keld.http.advertised-url", advertisedUrl);
    return extra;
  }

  @Override
  public Integer call() throws Exception {
    long started = System.nanoTime();
    Config config;
    try {
      config = KeldConfig.load(profile, new KeldConfig.Overrides(httpPort, remotePort, managementPort, dataDir, seedAddresses(), extraSettings()));
    } catch (KeldConfig.InvalidConfigException | IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "invalid configuration: " + e.getMessage());
    }

    System.out.printf("Starting Keld node (profile %s, database %s)...%n", profile, KeldDatabase.redact(config.getString("keld.database.url")));
    KeldNode node;
    try {
      node = KeldNode.start(config);
    } catch (RuntimeException e) {
      System.err.println("keld: the node did not start: " + e.getMessage());
      return 1;
    }
    installSignalHandlers(node);
    node.bootstrapKey().ifPresent(issued -> printBootstrapKey(issued.secret(), issued.key().id()));

    String advertised = config.getString("keld.http.advertised-url");
    String http = advertised.isBlank() ? "http://" + hostForDisplay(config) + ":" + node.httpAddress().getPort() : advertised.replaceAll("/+$", "");
    System.out.printf("Keld HTTP API on %s  (health %s/health/ready, metrics %s/metrics)%n", http, http, http);
    String otlp = node.otlpAddress().map(a -> "http://" + hostForDisplay(config) + ":" + a.getPort()).orElse(null);
    if (otlp != null) System.out.printf("OpenTelemetry (OTLP/HTTP) ingest on %s/v1/traces and %s/v1/metrics%n", otlp, otlp);
    System.out.printf("Cluster address %s, management http://%s:%d%n", node.clusterAddress(),
        config.getString("pekko.management.http.hostname"), config.getInt("pekko.management.http.port"));
    if (demo) {
      try {
        node.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
        System.out.println(DemoFleets.start(node).describe());
        System.out.println(DemoMarket.start(node).describe());
        System.out.println(demoWelcome(DemoTenancy.create(node.governance()), http, otlp));
      } catch (Exception e) {
        System.err.println("keld: the demo did not start: " + e.getMessage());
      }
    }
    node.ready()
        .thenRun(() -> System.out.printf("Keld node ready in %d ms. Stop it with Ctrl-C.%n",
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)));

    node.system().getWhenTerminated().toCompletableFuture().join();
    boolean asked = node.shutdownReason().map(r -> r == KeldNode.STOP_REQUESTED).orElse(false);
    System.out.println(asked ? "Keld node stopped." : "Keld node stopped: " + node.shutdownReason().map(Object::toString).orElse("unknown reason"));
    return asked ? 0 : 1;
  }

  /** What a first run teaches: the demo enterprise's key, a job over IXP with curl, and the OpenAI SDK pointed at Keld. */
  static String demoWelcome(DemoTenancy.Created demo, String http, String otlp) {
    String telemetry = otlp == null ? "" : String.join("\n",
        "Your own AI calls in the spend map: point an OpenTelemetry SDK's OTLP/HTTP exporter at Keld, then ask where the money goes:",
        "",
        "  export OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp + " OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer%20$KELD_API_KEY\"",
        "  curl -s '" + http + "/atlas/v1/reports/spend?group_by=team,model' -H \"Authorization: Bearer $KELD_API_KEY\"",
        "  curl -s '" + http + "/atlas/v1/recommendations' -H \"Authorization: Bearer $KELD_API_KEY\"",
        "",
        "");
    return String.join("\n",
        "",
        "Demo enterprise \"" + DemoTenancy.ORG_NAME + "\": organization " + demo.orgId() + ", team " + demo.teamId() + ", project " + demo.projectId()
            + " with a budget of $" + DemoTenancy.MONTHLY_HARD_CAP_MICRO_USD / 1_000_000 + " a month.",
        "Its key (scoped to the project; shown once, a new one every start):",
        "",
        "  export KELD_API_KEY=" + demo.apiKey(),
        "",
        "A deadline job over IXP: submit it, send its items, read the results as they come:",
        "",
        "  JOB=$(curl -s " + http + "/ixp/v1/jobs -H \"Authorization: Bearer $KELD_API_KEY\" -H 'Content-Type: application/json' \\",
        "    -d '{\"use_case\":\"summarize\",\"deadline\":\"PT10M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":2000}' | jq -r .id)",
        "  printf '%s\\n' '{\"custom_id\":\"a\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"Summarize: Keld is a market.\"}]}}' \\",
        "    | curl -sN " + http + "/ixp/v1/jobs/$JOB/items -H \"Authorization: Bearer $KELD_API_KEY\" -H 'Content-Type: application/x-ndjson' --data-binary @-",
        "  curl -s " + http + "/ixp/v1/jobs/$JOB -H \"Authorization: Bearer $KELD_API_KEY\"",
        "",
        "The OpenAI SDK (Python; any OpenAI client works the same way), pointed at Keld:",
        "",
        "  from openai import OpenAI",
        "  client = OpenAI(base_url=\"" + http + "/v1\", api_key=\"" + demo.apiKey() + "\")",
        "  r = client.chat.completions.create(model=\"keld/chat\", messages=[{\"role\": \"user\", \"content\": \"Hello\"}])",
        "  print(r.choices[0].message.content)",
        "",
        telemetry);
  }

  /**
   * The first node on a fresh database prints the operator key once: it is stored only as a hash,
   * so this is the one chance to copy it. (Printed to the terminal, never to the log.)
   */
  private static void printBootstrapKey(String key, String keyId) {
    System.out.println();
    System.out.println("  Operator bootstrap key (" + keyId + "), shown this once and stored only as a hash:");
    System.out.println();
    System.out.println("    " + key);
    System.out.println();
    System.out.println("  It can create organizations and keys: keep it in a secret store. To use it:");
    System.out.println("    export KELD_API_KEY=" + key);
    System.out.println("    keld keys create --org <org-id> --role admin --name first-admin");
    System.out.println();
  }

  /** SIGTERM and SIGINT leave the cluster gracefully; the process then exits 0. */
  private static void installSignalHandlers(KeldNode node) {
    for (String name : List.of("TERM", "INT")) {
      Signal.handle(new Signal(name), signal -> new Thread(node::stop, "keld-stop-on-SIG" + name).start());
    }
  }

  private List<String> seedAddresses() {
    if (seeds == null || seeds.isEmpty() || (seeds.size() == 1 && seeds.get(0).isBlank())) return null;
    return seeds.stream().map(StartCommand::seedAddress).toList();
  }

  public static String seedAddress(String hostPort) {
    String s = hostPort.trim();
    if (s.startsWith("pekko://")) return s;
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException("a seed node is HOST:PORT, got '" + hostPort + "'");
    }
    try {
      Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("a seed node's port must be a number, got '" + hostPort + "'");
    }
    return "pekko://" + KeldNode.SYSTEM_NAME + "@" + s;
  }

  private static String hostForDisplay(Config config) {
    String iface = config.getString("keld.http.interface");
    return iface.equals("0.0.0.0") ? "localhost" : iface;
  }

}
