package io.keld.node.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.keld.atlas.keys.KeyStore;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import io.keld.atlas.tenancy.TenancyStore;
import io.keld.node.config.KeldConfig;
import io.keld.kit.sql.KeldDatabase;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code keld keys}: issue, list and revoke API keys against a running node, over its HTTP API
 * (the same calls as curl), and {@code keld keys operator}, which issues an operator key straight
 * into the database for an operator who lost theirs.
 */
@Command(
    name = "keys",
    description = "Manage API keys on a running Keld node (uses KELD_API_KEY and KELD_URL).",
    subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class, KeysCommand.Operator.class,
        CommandLine.HelpCommand.class})
public final class KeysCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  private static final ObjectMapper JSON = Json.PLAIN;

  /** Where and as whom to call the node. */
  static final class Connection {
    @Option(names = "--url", paramLabel = "URL", description = "Keld HTTP API (default: $KELD_URL or http://localhost:8080).")
    String url;

    @Option(names = "--key", paramLabel = "KEY", description = "API key to act with (default: $KELD_API_KEY). Prefer the variable: flags show in ps.")
    String key;

    String baseUrl() {
      String u = url != null ? url : System.getenv().getOrDefault("KELD_URL", "http://localhost:8080");
      return u.endsWith("/") ? u.substring(0, u.length() - 1) : u;
    }

    String apiKey(CommandLine cmd) {
      String k = key != null ? key : System.getenv("KELD_API_KEY");
      if (k == null || k.isBlank()) throw new CommandLine.ParameterException(cmd, "no API key: set KELD_API_KEY or pass --key");
      return k.trim();
    }

    /** The organization named on the command line, else the acting key's own. */
    String orgOrOwn(CommandLine cmd, String org) throws IOException, InterruptedException {
      return org != null ? org : call(cmd, "GET", "/atlas/v1/me", null).path("org_id").asText();
    }

    /** Calls the node; a problem+json answer becomes a one-line error and exit code 1. */
    JsonNode call(CommandLine cmd, String method, String path, JsonNode body) throws IOException, InterruptedException {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl() + path))
          .timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + apiKey(cmd))
          .header("Accept", "application/json");
      if (body != null) {
        b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
      } else {
        b.method(method, HttpRequest.BodyPublishers.noBody());
      }
      HttpResponse<String> r;
      try {
        r = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
      } catch (ConnectException e) {
        throw new CliFailure("cannot reach Keld at " + baseUrl() + " (is a node running? set KELD_URL or --url)");
      }
      if (r.statusCode() >= 400) {
        String detail = r.body();
        try {
          JsonNode problem = JSON.readTree(r.body());
          detail = problem.path("detail").asText(problem.path("title").asText(r.body()));
        } catch (IOException ignored) {
          // not JSON: show it as it came
        }
        throw new CliFailure("Keld answered " + r.statusCode() + ": " + detail);
      }
      return r.body().isBlank() ? JSON.nullNode() : JSON.readTree(r.body());
    }
  }

  /** An error to print as one line, exiting 1. */
  static final class CliFailure extends RuntimeException {
    CliFailure(String message) {
      super(message, null, false, false);
    }
  }

  static int failing(Callable<Integer> body) throws Exception {
    try {
      return body.call();
    } catch (CliFailure f) {
      System.err.println("keld: " + f.getMessage());
      return 1;
    }
  }

  @Command(name = "create", description = "Issue a key. Prints the key alone on stdout (shown once); details go to stderr.")
  static final class Create implements Callable<Integer> {
    @CommandLine.Mixin Connection connection = new Connection();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--org", paramLabel = "ORG_ID", description = "Organization of the key (default: the acting key's).")
    String org;

    @Option(names = "--role", required = true, paramLabel = "ROLE", description = "admin, member, read-only, provider or operator.")
    String role;

    @Option(names = "--name", paramLabel = "NAME", description = "What the key is for (default: the role).")
    String name;

    @Option(names = "--team", paramLabel = "TEAM_ID", description = "Scope the key to one team.")
    String team;

    @Option(names = "--project", paramLabel = "PROJECT_ID", description = "Scope the key to one project.")
    String project;

    @Override
    public Integer call() throws Exception {
      return failing(() -> {
        CommandLine cmd = spec.commandLine();
        String orgId = connection.orgOrOwn(cmd, org);
        ObjectNode body = JSON.createObjectNode().put("name", name != null ? name : role).put("role", role);
        if (team != null) body.put("team_id", team);
        if (project != null) body.put("project_id", project);
        JsonNode issued = connection.call(cmd, "POST", "/atlas/v1/orgs/" + orgId + "/keys", body);
        System.err.printf("Issued %s (%s) in %s%s. It is shown once:%n", issued.path("id").asText(), issued.path("role").asText(),
            issued.path("org_id").asText(), issued.hasNonNull("project_id") ? ", project " + issued.path("project_id").asText()
                : issued.hasNonNull("team_id") ? ", team " + issued.path("team_id").asText() : "");
        System.out.println(issued.path("key").asText());
        return 0;
      });
    }
  }

  @Command(name = "list", description = "List an organization's keys (never the keys themselves).")
  static final class ListKeys implements Callable<Integer> {
    @CommandLine.Mixin Connection connection = new Connection();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--org", paramLabel = "ORG_ID", description = "Organization (default: the acting key's).")
    String org;

    @Override
    public Integer call() throws Exception {
      return failing(() -> {
        CommandLine cmd = spec.commandLine();
        String orgId = connection.orgOrOwn(cmd, org);
        JsonNode list = connection.call(cmd, "GET", "/atlas/v1/orgs/" + orgId + "/keys", null);
        System.out.printf("%-22s %-10s %-8s %-24s %s%n", "ID", "ROLE", "ENDS IN", "SCOPE", "NAME");
        for (JsonNode k : list.path("data")) {
          String scope = k.hasNonNull("project_id") ? k.path("project_id").asText() : k.hasNonNull("team_id") ? k.path("team_id").asText() : "organization";
          System.out.printf("%-22s %-10s %-8s %-24s %s%s%n", k.path("id").asText(), k.path("role").asText(), "…" + k.path("hint").asText(),
              scope, k.path("name").asText(), k.hasNonNull("revoked_at") ? "  (revoked " + k.path("revoked_at").asText() + ")" : "");
        }
        return 0;
      });
    }
  }

  @Command(name = "revoke", description = "Revoke a key: every node refuses it from now on.")
  static final class Revoke implements Callable<Integer> {
    @CommandLine.Mixin Connection connection = new Connection();
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "KEY_ID", description = "The key's id (key_…), not the key.")
    String keyId;

    @Override
    public Integer call() throws Exception {
      return failing(() -> {
        connection.call(spec.commandLine(), "DELETE", "/atlas/v1/keys/" + keyId, null);
        System.err.println("Revoked " + keyId + ".");
        return 0;
      });
    }
  }

  @Command(name = "operator",
      description = "Issue a new operator key directly in the database (when the bootstrap key is lost). Run it where a node runs, with its profile.")
  static final class Operator implements Callable<Integer> {
    @Option(names = "--profile", paramLabel = "NAME|FILE", description = "Configuration profile of the node (default dev).")
    String profile = KeldConfig.DEFAULT_PROFILE;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory of the node (dev profile).")
    Path dataDir;

    @Option(names = "--name", paramLabel = "NAME", description = "What the key is for.")
    String name = "operator key issued with keld keys operator";

    @Override
    public Integer call() {
      Config config = KeldConfig.load(profile, new KeldConfig.Overrides(null, null, null, dataDir, null, Map.of()));
      try (KeldDatabase db = KeldDatabase.connect(config)) {
        db.migrate();
        Sql sql = new Sql(db.dataSource(), Runnable::run);
        KeyStore.IssuedKey issued = new KeyStore(sql, Clock.systemUTC()).issueOperatorKey(new TenancyStore(sql, Clock.systemUTC()), name);
        System.err.println("Issued operator key " + issued.key().id() + ". It is shown once:");
        System.out.println(issued.secret());
        return 0;
      } catch (RuntimeException e) {
        System.err.println("keld: " + e.getMessage());
        return 1;
      }
    }
  }
}
