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
 * The benchmark's PostgreSQL server's CPU time and the WAL it has written, at one moment (Linux, the
 * server on this machine). Between two readings around a phase, divided by its requests: what each
 * request cost the database, which the node's own CPU figure leaves out. Both cover the whole server
 * (every database on it): run nothing else against it meanwhile. CPU is its postmaster (found from
 * the server's {@code postmaster.pid}) and the postmaster's children (backends, checkpointer, WAL
 * writer), plus the time of children that ended, which the postmaster collected as its own children's.
 * The kernel counts in clock ticks (10 ms): over a phase of tens of thousands of requests that is
 * well under a microsecond each.
 */
record PostgresCounters(long cpuTicks, long walBytes) {

  /** Clock ticks a second (USER_HZ): 100 on every Linux the JVM runs on here. */
  private static final double TICKS_PER_SECOND = 100;

  /**
   * A reading, or null where the server cannot be asked or is not a process of this machine that
   * this user may read (then the report leaves the figures out).
   */
  static PostgresCounters now(String url, String user, String password) {
    long postmaster;
    long wal;
    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")) {
        rs.next();
        wal = rs.getLong(1);
      }
      try (ResultSet rs = s.executeQuery("SHOW data_directory")) {
        rs.next();
        postmaster = Long.parseLong(Files.readAllLines(Path.of(rs.getString(1), "postmaster.pid")).get(0).trim());
      }
    } catch (SQLException | IOException | RuntimeException e) {
      return null;
    }
    long ticks = 0;
    boolean found = false;
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        try {
          String stat = Files.readString(proc.resolve("stat"));
          // pid (comm) state ppid ...: comm may hold spaces, so fields count from the last ')'.
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          // after comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
          long pid = Long.parseLong(proc.getFileName().toString());
          if (pid != postmaster && Long.parseLong(f[1]) != postmaster) continue;
          ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
          found = pid == postmaster || found;
        } catch (IOException | RuntimeException processEnded) {
          // a backend that ended meanwhile: the postmaster's cutime has it at the next reading
        }
      }
    } catch (IOException notLinux) {
      return null;
    }
    return found ? new PostgresCounters(ticks, wal) : null;
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
