package io.keld.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The local PostgreSQL server's CPU time and the WAL it has written, at one moment (Linux, the server
 * on this machine). Between two readings around a phase, divided by its requests: what each request
 * cost the database, which the node's own CPU figure leaves out. CPU is every process named
 * {@code postgres} (the postmaster and its backends, checkpointer, WAL writer), plus the time of
 * backends that ended, which the postmaster collected as its children's. The kernel counts in clock
 * ticks (10 ms): over a phase of tens of thousands of requests that is well under a microsecond each.
 */
record PostgresCounters(long cpuTicks, long walBytes) {

  /** Clock ticks a second (USER_HZ): 100 on every Linux the JVM runs on here. */
  private static final double TICKS_PER_SECOND = 100;

  /** A reading, or null where the server is not a local Linux process or cannot be asked. */
  static PostgresCounters now(String url, String user, String password) {
    long ticks = 0;
    boolean found = false;
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        try {
          String stat = Files.readString(proc.resolve("stat"));
          // pid (comm) state ppid ...: comm may hold spaces, so fields count from the last ')'.
          int close = stat.lastIndexOf(')');
          if (!stat.substring(stat.indexOf('(') + 1, close).equals("postgres")) continue;
          String[] f = stat.substring(close + 2).split(" ");
          // after comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
          ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
          found = true;
        } catch (IOException | RuntimeException processEnded) {
          // a backend that ended meanwhile: the postmaster's cutime has it at the next reading
        }
      }
    } catch (IOException notLinux) {
      return null;
    }
    if (!found) return null;
    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")) {
      rs.next();
      return new PostgresCounters(ticks, rs.getLong(1));
    } catch (SQLException e) {
      return null;
    }
  }

  /** CPU microseconds a request from {@code before} to this reading. */
  double cpuMicrosPerRequest(PostgresCounters before, long requests) {
    return requests == 0 ? 0 : (cpuTicks - before.cpuTicks) / TICKS_PER_SECOND * 1_000_000 / requests;
  }

  /** WAL bytes a request from {@code before} to this reading. */
  double walBytesPerRequest(PostgresCounters before, long requests) {
    return requests == 0 ? 0 : (double) (walBytes - before.walBytes) / requests;
  }
}
