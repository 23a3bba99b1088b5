package io.keld.node.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code keld version}: Keld's version and the versions of what it runs on. */
@Command(name = "version", description = "Print Keld's version and the versions it runs on.")
public final class VersionCommand implements Runnable {

  @Override
  public void run() {
    for (String line : lines()) System.out.println(line);
  }

  static String[] lines() {
    Properties p = new Properties();
    try (InputStream in = VersionCommand.class.getResourceAsStream("/keld-version.properties")) {
      if (in != null) p.load(in);
    } catch (IOException e) {
      // fall through with what we have
    }
    return new String[] {
      "keld " + p.getProperty("keld.version", "unknown"),
      "pekko " + p.getProperty("pekko.version", "unknown") + ", pekko-http " + p.getProperty("pekko-http.version", "unknown"),
      "java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"
    };
  }

  /** Lets {@code keld --version} print the same lines. */
  public static final class Provider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return lines();
    }
  }
}
