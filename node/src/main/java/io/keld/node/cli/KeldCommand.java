package io.keld.node.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import io.keld.node.cli.jobs.JobsCommand;
import io.keld.node.runtime.CommonPool;

/** {@code keld}: the one command for running and operating Keld. Subcommands do the work. */
@Command(
    name = "keld",
    mixinStandardHelpOptions = true,
    versionProvider = VersionCommand.Provider.class,
    description = "Keld: a neutral marketplace for AI inference.",
    subcommands = {StartCommand.class, KeysCommand.class, JobsCommand.class, ClusterCommand.class, ProjectionsCommand.class,
        VerifyCommand.class, MarketCommand.class, SimProviderCommand.class, VersionCommand.class, CommandLine.HelpCommand.class})
public final class KeldCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    // `keld` alone: show what it can do.
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    CommonPool.ensureParallel(); // before anything uses the JDK's common pool
    int exit = new CommandLine(new KeldCommand()).execute(args);
    System.exit(exit);
  }
}
