package io.keld.node.cli;

import com.typesafe.config.Config;
import io.keld.atlas.governance.SoftCapAlerts;
import io.keld.exchange.projection.JobProjection;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.KeldDatabase;
import io.keld.node.config.KeldConfig;
import io.keld.trade.statement.StatementStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code keld projections}: the read sides fed from the event journal. {@code rebuild NAME} empties
 * one and sets its offset back to zero in the node's database; running nodes notice at their next
 * batch and replay the journal from the start. {@code list} shows where each has got to.
 */
@Command(
    name = "projections",
    description = "Read sides fed from the event journal: list them, or rebuild one from offset zero.",
    subcommands = {ProjectionsCommand.ListProjections.class, ProjectionsCommand.Rebuild.class, CommandLine.HelpCommand.class})
public final class ProjectionsCommand implements Runnable {

  /** Every projection of the node, by name. */
  static final List<TagProjection.Spec> ALL = List.of(StatementStore.PROJECTION, JobProjection.SPEC, SoftCapAlerts.SPEC);

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Which node's database. */
  static final class Where {
    @Option(names = "--profile", paramLabel = "NAME|FILE", description = "Configuration profile of the node (default dev).")
    String profile = KeldConfig.DEFAULT_PROFILE;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory of the node (dev profile).")
    Path dataDir;

    KeldDatabase connect() {
      Config config = KeldConfig.load(profile, new KeldConfig.Overrides(null, null, null, dataDir, null, Map.of()));
      KeldDatabase db = KeldDatabase.connect(config);
      db.migrate();
      return db;
    }
  }

  @Command(name = "list", description = "Each projection, what it reads (a tag, or entities' journals) and how far it has got: "
      + "the journal ordering applied up to (a tag), or the events applied (entities' journals).")
  static final class ListProjections implements Callable<Integer> {
    @CommandLine.Mixin Where where = new Where();

    @Override
    public Integer call() {
      try (KeldDatabase db = where.connect(); Connection c = db.dataSource().getConnection()) {
        for (TagProjection.Spec p : ALL) {
          long offset = TagProjection.storedOffset(c, p.name());
          System.out.println(p.name() + "\treads=" + p.tag() + "\toffset=" + (offset < 0 ? "never ran" : offset));
        }
        return 0;
      } catch (SQLException | RuntimeException e) {
        System.err.println("keld: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(name = "rebuild", description = "Empty a projection's read side and replay the journal into it from offset zero.")
  static final class Rebuild implements Callable<Integer> {
    @CommandLine.Mixin Where where = new Where();

    @Parameters(paramLabel = "NAME", description = "The projection (see keld projections list).")
    String name;

    @Override
    public Integer call() {
      TagProjection.Spec p = ALL.stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
      if (p == null) {
        System.err.println("keld: no projection named " + name + "; there are: " + ALL.stream().map(TagProjection.Spec::name).toList());
        return 2;
      }
      try (KeldDatabase db = where.connect(); Connection c = db.dataSource().getConnection()) {
        long had = TagProjection.rebuild(c, p);
        System.err.println("Rebuilding " + name + " from offset 0 (it was at " + Math.max(had, 0)
            + "); running nodes replay the journal into it now, or at their next start.");
        return 0;
      } catch (SQLException | RuntimeException e) {
        System.err.println("keld: " + e.getMessage());
        return 1;
      }
    }
  }
}
