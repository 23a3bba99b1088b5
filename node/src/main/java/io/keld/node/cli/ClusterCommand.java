package io.keld.node.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.kit.Json;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code keld cluster status}: a running cluster's members, shards and books, for operators. */
@Command(
    name = "cluster",
    description = "Look at a running Keld cluster (uses KELD_API_KEY, an operator key, and KELD_URL).",
    subcommands = {ClusterCommand.Status.class, CommandLine.HelpCommand.class})
public final class ClusterCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  @Command(name = "status", description = "Members and their status, which node hosts which books, and each node's shards and entities.")
  static final class Status implements Callable<Integer> {
    @Mixin KeysCommand.Connection connection = new KeysCommand.Connection();

    @Option(names = "--json", description = "Print the node's answer as JSON, for scripts.")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      return KeysCommand.failing(() -> {
        JsonNode view = connection.call(spec.commandLine(), "GET", "/cluster/v1/status", null);
        System.out.println(json ? Json.PLAIN.writerWithDefaultPrettyPrinter().writeValueAsString(view) : render(view));
        return 0;
      });
    }
  }

  /** The status as a terminal table. */
  static String render(JsonNode view) {
    StringBuilder s = new StringBuilder();
    s.append("Cluster seen from ").append(view.path("self").asText()).append(", leader ").append(view.path("leader").asText("none")).append("\n\n");
    s.append(String.format("%-34s %-10s %-9s %-8s %s%n", "MEMBER", "STATUS", "REACHABLE", "VERSION", "NOTE"));
    for (JsonNode m : view.path("members")) {
      s.append(String.format("%-34s %-10s %-9s %-8s %s%n", m.path("address").asText(), m.path("status").asText(),
          m.path("reachable").asBoolean() ? "yes" : "NO", m.path("app_version").asText(), m.path("oldest").asBoolean() ? "oldest (coordinators)" : ""));
    }
    s.append("\nBOOKS\n");
    for (Iterator<Map.Entry<String, JsonNode>> it = view.path("books").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> b = it.next();
      s.append(String.format("  %-14s on %s%n", b.getKey(), b.getValue().asText()));
    }
    s.append("\nSHARDS (shards / entities per node)\n");
    for (Iterator<Map.Entry<String, JsonNode>> it = view.path("sharding").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> type = it.next();
      s.append("  ").append(type.getKey()).append('\n');
      for (Iterator<Map.Entry<String, JsonNode>> nodes = type.getValue().fields(); nodes.hasNext(); ) {
        Map.Entry<String, JsonNode> n = nodes.next();
        s.append(String.format("    %-34s %5d / %d%n", n.getKey(), n.getValue().path("shards").asInt(), n.getValue().path("entities").asInt()));
      }
    }
    return s.toString();
  }
}
