package io.keld.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.typesafe.config.Config;
import io.keld.node.cli.StartCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfile, the compose file and the Kubernetes manifests cannot be run here (nothing can pull
 * an image), so this keeps them from rotting: every port, probe path and variable they name must be
 * one the node has, with the node's own defaults.
 */
class DeploymentFilesTest {

  static final Path ROOT = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).resolve("..").toAbsolutePath().normalize();
  static final Pattern KELD_VAR = Pattern.compile("\\bKELD_[A-Z0-9_]+\\b");

  final Config defaults = KeldConfig.load("postgres", KeldConfig.Overrides.none());
  final Set<Integer> nodePorts = Set.of(defaults.getInt("keld.http.port"), defaults.getInt("keld.otlp.port"),
      defaults.getInt("pekko.remote.artery.canonical.port"), defaults.getInt("pekko.management.http.port"));

  @Test
  void everyVariableTheFilesSetIsOneTheNodeReads() throws IOException {
    Set<String> read = variablesTheNodeReads();
    for (String file : List.of("Dockerfile", "compose.yaml", "deploy/kubernetes/keld.yaml")) {
      Set<String> named = new TreeSet<>();
      Matcher m = KELD_VAR.matcher(Files.readString(ROOT.resolve(file)));
      while (m.find()) named.add(m.group());
      named.remove("KELD_VERSION"); // the Dockerfile's build argument
      assertTrue(!named.isEmpty(), file + " sets variables");
      for (String v : named) assertTrue(read.contains(v), file + " sets " + v + ", which the node does not read; it reads " + read);
    }
  }

  @Test
  void theImageExposesTheNodesPortsAndChecksItsLiveness() throws IOException {
    String docker = Files.readString(ROOT.resolve("Dockerfile"));
    Matcher expose = Pattern.compile("(?m)^EXPOSE (.+)$").matcher(docker);
    assertTrue(expose.find());
    Set<Integer> exposed = new TreeSet<>();
    for (String p : expose.group(1).trim().split("\\s+")) exposed.add(Integer.parseInt(p));
    assertEquals(new TreeSet<>(nodePorts), exposed);
    assertTrue(docker.contains("http://127.0.0.1:" + defaults.getInt("keld.http.port") + "/health/alive"), "HEALTHCHECK probes liveness");
    assertTrue(docker.contains("\"start\", \"--profile\", \"postgres\""), "the image runs the postgres profile");
    for (String line : docker.split("\n")) {
      Matcher port = Pattern.compile("(KELD_[A-Z_]*PORT)=(\\d+)").matcher(line);
      while (port.find()) assertTrue(nodePorts.contains(Integer.parseInt(port.group(2))), line);
    }
  }

  @Test
  void composeMapsTheHttpPortAndSeedsOnTheClusterPort() throws IOException {
    JsonNode compose = new YAMLMapper().readTree(ROOT.resolve("compose.yaml").toFile());
    int http = defaults.getInt("keld.http.port");
    int remote = defaults.getInt("pekko.remote.artery.canonical.port");
    for (String node : List.of("keld-1", "keld-2", "keld-3")) {
      JsonNode service = compose.path("services").path(node);
      assertTrue(service.path("ports").get(0).asText().endsWith(":" + http), node + " publishes the HTTP port");
      // The nodes share their environment through a YAML merge key, which the YAML reader here does not apply.
      String seeds = service.path("environment").path("KELD_SEED_NODES")
          .asText(compose.path("x-keld-node").path("environment").path("KELD_SEED_NODES").asText());
      assertTrue(!seeds.isBlank(), node + " has seeds");
      assertTrue(!service.path("environment").path("KELD_CLUSTER_HOSTNAME").asText().isBlank(), node + " advertises its name");
      for (String seed : seeds.split(",")) {
        assertTrue(StartCommand.seedAddress(seed).endsWith(":" + remote), seed);
        assertTrue(compose.path("services").has(seed.substring(0, seed.indexOf(':'))), "seed " + seed + " is a service");
      }
    }
  }

  @Test
  void theStatefulSetProbesTheHealthRoutesAndGivesTheDrainItsTime() throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (var parser = new YAMLMapper().createParser(ROOT.resolve("deploy/kubernetes/keld.yaml").toFile())) {
      new YAMLMapper().readValues(parser, JsonNode.class).forEachRemaining(docs::add);
    }
    JsonNode set = docs.stream().filter(d -> d.path("kind").asText().equals("StatefulSet")).findFirst().orElseThrow();
    JsonNode pod = set.path("spec").path("template").path("spec");
    JsonNode container = pod.path("containers").get(0);
    Map<String, Integer> ports = new java.util.HashMap<>();
    container.path("ports").forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
    assertEquals(nodePorts, Set.copyOf(ports.values()));
    assertEquals(defaults.getInt("keld.http.port"), ports.get("http"));
    assertEquals("/health/alive", container.path("livenessProbe").path("httpGet").path("path").asText());
    assertEquals("/health/ready", container.path("readinessProbe").path("httpGet").path("path").asText());
    assertEquals("/health/alive", container.path("startupProbe").path("httpGet").path("path").asText());

    Map<String, String> env = new java.util.HashMap<>();
    container.path("env").forEach(e -> env.put(e.path("name").asText(), e.path("value").asText()));
    int remote = defaults.getInt("pekko.remote.artery.canonical.port");
    String headless = set.path("spec").path("serviceName").asText();
    for (String seed : env.get("KELD_SEED_NODES").split(",")) {
      assertTrue(seed.endsWith("." + headless + ":" + remote), "seed " + seed + " is a pod of the headless service on the cluster port");
    }
    JsonNode service = docs.stream().filter(d -> d.path("metadata").path("name").asText().equals(headless)).findFirst().orElseThrow();
    assertEquals("None", service.path("spec").path("clusterIP").asText());
    assertTrue(service.path("spec").path("publishNotReadyAddresses").asBoolean());

    Duration grace = Duration.ofSeconds(pod.path("terminationGracePeriodSeconds").asLong());
    Duration needed = defaults.getDuration("keld.http.drain-timeout").plus(Duration.parse("PT" + env.get("KELD_UNREADY_DELAY").toUpperCase()));
    assertTrue(grace.compareTo(needed.plusSeconds(30)) >= 0, "the grace period " + grace + " covers unready-delay, drain and leaving: " + needed);
    assertTrue(docs.stream().anyMatch(d -> d.path("kind").asText().equals("PodDisruptionBudget")));
  }

  /** {@code ${?KELD_X}} in the config files and {@code ${env:KELD_X}} or {@code getenv("KELD_X")} in the node's code. */
  private static Set<String> variablesTheNodeReads() throws IOException {
    Set<String> read = new TreeSet<>();
    Pattern conf = Pattern.compile("\\$\\{\\?(KELD_[A-Z0-9_]+)\\}");
    // ${env:KELD_X} of picocli, and "KELD_X" literals (System.getenv arguments, their constants, config values naming a variable).
    Pattern code = Pattern.compile("(?:\\$\\{env:|\")(KELD_[A-Z0-9_]+)");
    try (Stream<Path> files = Files.walk(ROOT)) {
      for (Path f : files.filter(p -> !p.toString().contains("/target/") && !p.toString().contains("/.git/")
          && (p.toString().endsWith(".conf") || (p.toString().endsWith(".java") && p.toString().contains("/src/main/")))).toList()) {
        String text = Files.readString(f);
        Matcher m = conf.matcher(text);
        while (m.find()) read.add(m.group(1));
        m = code.matcher(text);
        while (m.find()) read.add(m.group(1));
      }
    }
    read.add("KELD_LOG_FORMAT"); // read by logback.xml
    read.add("KELD_LOG_LEVEL");
    return read;
  }
}
