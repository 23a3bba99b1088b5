package io.keld.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import one.profiler.AsyncProfiler;

/**
 * With {@code KELD_BENCH_PROFILE=<folder>}, a profile of one phase of a benchmark, in the JVM that
 * runs the node: by default a JDK Flight Recording (the JDK's "profile" settings) written to
 * {@code <folder>/<phase>.jfr}; with {@code KELD_BENCH_PROFILE_EVENT=cpu} (or {@code itimer},
 * {@code wall}, {@code alloc}, {@code lock}), async-profiler sampling that event, written as collapsed
 * stacks ({@code <phase>.collapsed}) and a flame graph ({@code <phase>.html}). Without the folder,
 * nothing is recorded.
 */
final class PhaseRecording implements AutoCloseable {

  private final Recording recording;
  private final AsyncProfiler profiler;
  private final Path dir;
  private final String phase;

  private PhaseRecording(Recording recording, AsyncProfiler profiler, Path dir, String phase) {
    this.recording = recording;
    this.profiler = profiler;
    this.dir = dir;
    this.phase = phase;
  }

  static PhaseRecording start(String phase) throws Exception {
    String folder = System.getenv("KELD_BENCH_PROFILE");
    if (folder == null || folder.isBlank()) return new PhaseRecording(null, null, null, phase);
    Path dir = Files.createDirectories(Path.of(folder));
    String event = System.getenv("KELD_BENCH_PROFILE_EVENT");
    if (event != null && !event.isBlank()) {
      AsyncProfiler profiler = AsyncProfiler.getInstance();
      profiler.execute("start,event=" + event + ",interval=" + ("wall".equals(event) ? "200us" : "alloc".equals(event) ? "512k" : "1ms"));
      return new PhaseRecording(null, profiler, dir, phase);
    }
    Recording r = new Recording(Configuration.getConfiguration("profile"));
    r.setName(phase);
    r.start();
    return new PhaseRecording(r, null, dir, phase);
  }

  @Override
  public void close() throws Exception {
    if (profiler != null) {
      profiler.execute("stop");
      profiler.execute("collapsed,file=" + dir.resolve(phase + ".collapsed"));
      profiler.execute("flamegraph,file=" + dir.resolve(phase + ".html"));
      EdgePeersBench.log("profiled %s", dir.resolve(phase + ".html"));
    } else if (recording != null) {
      recording.stop();
      recording.dump(dir.resolve(phase + ".jfr"));
      recording.close();
      EdgePeersBench.log("recorded %s", dir.resolve(phase + ".jfr"));
    }
  }
}
