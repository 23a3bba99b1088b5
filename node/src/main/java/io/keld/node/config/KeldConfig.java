package io.keld.node.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a node's configuration: a profile from {@code config/} (packaged into the jar under
 * {@code keld-config/}) or a {@code .conf} file on disk, with command-line overrides on top, and
 * every module's {@code reference.conf} (Keld's defaults, Pekko's) underneath.
 *
 * <p>Overrides are applied before substitutions are resolved, so that {@code --data-dir} moves the
 * embedded database too (its URL is built from {@code keld.data-dir}). The reference layer comes
 * resolved on its own, so a setting that follows another one the profile may change is restated in
 * {@code config/keld.conf}.
 */
public final class KeldConfig {

  public static final String DEFAULT_PROFILE = "dev";
  public static final List<String> PACKAGED_PROFILES = List.of("dev", "postgres", "cluster-local-3");
  private static final String PROFILE_RESOURCE_DIR = "keld-config/";

  private KeldConfig() {}

  /** The settings a user may set from the command line; a null field means "as the profile says". */
  public record Overrides(
      Integer httpPort,
      Integer remotePort,
      Integer managementPort,
      Path dataDir,
      List<String> seedNodes,
      Map<String, Object> extra) {

    public static Overrides none() {
      return new Overrides(null, null, null, null, null, Map.of());
    }

    Map<String, Object> asPaths() {
      Map<String, Object> paths = new LinkedHashMap<>(extra == null ? Map.of() : extra);
      if (httpPort != null) paths.put("keld.http.port", httpPort);
      if (remotePort != null) paths.put("pekko.remote.artery.canonical.port", remotePort);
      if (managementPort != null) paths.put("pekko.management.http.port", managementPort);
      // H2 refuses URLs with a path that is implicitly relative, so the data dir is made absolute.
      if (dataDir != null) paths.put("keld.data-dir", dataDir.toAbsolutePath().normalize().toString());
      if (seedNodes != null) paths.put("pekko.cluster.seed-nodes", seedNodes);
      return paths;
    }
  }

  /** Loads {@code profile} (a packaged profile name or a path to a .conf file) with the overrides. */
  public static Config load(String profile, Overrides overrides) {
    Config profileConfig = parseProfile(profile == null ? DEFAULT_PROFILE : profile);
    Config resolved = assemble(profileConfig, overrides);
    if (overrides.dataDir() == null) {
      // The profile's data dir is relative to where keld runs; pin it down as an absolute path.
      Path dataDir = Path.of(resolved.getString("keld.data-dir"));
      resolved = assemble(profileConfig, withDataDir(overrides, dataDir));
    }
    validate(resolved);
    return resolved;
  }

  private static Config assemble(Config profileConfig, Overrides overrides) {
    try {
      return ConfigFactory.parseMap(toConfigValues(overrides.asPaths()))
          .withFallback(ConfigFactory.systemProperties())
          .withFallback(profileConfig)
          .withFallback(ConfigFactory.defaultReference())
          .resolve();
    } catch (ConfigException e) {
      throw new InvalidConfigException(e.getMessage());
    }
  }

  private static Overrides withDataDir(Overrides o, Path dataDir) {
    return new Overrides(o.httpPort(), o.remotePort(), o.managementPort(), dataDir, o.seedNodes(), o.extra());
  }

  private static Config parseProfile(String profile) {
    ConfigParseOptions required = ConfigParseOptions.defaults().setAllowMissing(false);
    if (profile.endsWith(".conf")) {
      Path file = Path.of(profile);
      if (!Files.isReadable(file)) {
        throw new InvalidConfigException("profile file " + file.toAbsolutePath() + " does not exist or cannot be read");
      }
      return ConfigFactory.parseFile(file.toFile(), required);
    }
    if (!PACKAGED_PROFILES.contains(profile)) {
      throw new InvalidConfigException(
          "unknown profile '" + profile + "'; use one of " + PACKAGED_PROFILES + " or a path to a .conf file");
    }
    return ConfigFactory.parseResources(PROFILE_RESOURCE_DIR + profile + ".conf", required);
  }

  private static Map<String, Object> toConfigValues(Map<String, Object> paths) {
    Map<String, Object> values = new LinkedHashMap<>();
    paths.forEach((k, v) -> values.put(k, ConfigValueFactory.fromAnyRef(v).unwrapped()));
    return values;
  }

  private static void validate(Config config) {
    try {
      String vendor = config.getString("keld.database.vendor");
      if (!vendor.equals("h2") && !vendor.equals("postgresql")) {
        throw new InvalidConfigException("keld.database.vendor must be \"h2\" or \"postgresql\", not \"" + vendor + "\"");
      }
      if (!config.getString("keld.database.url").startsWith("jdbc:")) {
        throw new InvalidConfigException("keld.database.url must be a JDBC URL (jdbc:...)");
      }
      checkPort(config, "keld.http.port");
      checkPort(config, "pekko.remote.artery.canonical.port");
      checkPort(config, "pekko.management.http.port");
    } catch (ConfigException e) {
      throw new InvalidConfigException(e.getMessage());
    }
  }

  private static void checkPort(Config config, String path) {
    int port = config.getInt(path);
    if (port < 0 || port > 65535) {
      throw new InvalidConfigException(path + " must be a port number between 0 and 65535, not " + port);
    }
  }

  /** A configuration a node cannot start with; the message says what to fix. */
  public static final class InvalidConfigException extends RuntimeException {
    public InvalidConfigException(String message) {
      super(message);
    }
  }
}
