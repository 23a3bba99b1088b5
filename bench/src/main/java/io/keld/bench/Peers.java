package io.keld.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The processes {@code bench/run edge-peers} runs beside Keld, each on a free loopback port with its
 * files in the run's temporary folder: nginx as the mock upstream (a JSON answer and an SSE stream),
 * nginx as a plain proxy, and the Portkey OSS gateway. A peer that does not listen within its time
 * fails the run with the tail of its log. {@link #close} stops every process it started.
 */
final class Peers implements AutoCloseable {

  static final String PORTKEY_VERSION = "1.15.2";
  private static final Path ECHO_MODULE = Path.of("/usr/lib/nginx/modules/ngx_http_echo_module.so");

  private final Path work;
  private final Path peersDir;
  private final List<Process> started = new ArrayList<>();

  Peers(Path work, Path peersDir) {
    this.work = work;
    this.peersDir = peersDir;
  }

  /** The mock upstream: {@code baseUrl} answers chat completions whole, {@code streamBaseUrl} as SSE. */
  record Mock(int port, int streamPort) {
    /** A chat completion of about 1.3 KB, usage included. */
    static final String BODY = "{\"id\":\"chatcmpl-bench0000000000000000000001\",\"object\":\"chat.completion\",\"created\":1765000000,"
        + "\"model\":\"bench-model\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
        + ("The quick brown fox jumps over the lazy dog while the benchmark measures what a gateway adds. ").repeat(11).trim()
        + "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":230,\"total_tokens\":242}}";

    String baseUrl() {
      return "http://127.0.0.1:" + port + "/v1";
    }

    String url() {
      return baseUrl() + "/chat/completions";
    }

    String streamBaseUrl() {
      return "http://127.0.0.1:" + streamPort + "/v1";
    }

    String streamUrl() {
      return streamBaseUrl() + "/chat/completions";
    }
  }

  Mock startMock() throws Exception {
    if (!Files.exists(ECHO_MODULE)) throw new IllegalStateException("the nginx echo module is missing: run bench/peers/install");
    Mock mock = new Mock(freePort(), freePort());
    String conf = nginxHead("mock")
        + "  server {\n"
        + "    listen 127.0.0.1:" + mock.port() + ";\n"
        + "    location /v1/chat/completions {\n"
        + "      default_type application/json;\n"
        + "      return 200 '" + Mock.BODY + "';\n"
        + "    }\n"
        + "  }\n"
        + "  server {\n"
        + "    listen 127.0.0.1:" + mock.streamPort() + ";\n"
        + "    location /v1/chat/completions {\n"
        + "      default_type text/event-stream;\n"
        + "      echo_read_request_body;\n"
        + "      echo -n '" + sse(chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null")) + "';\n"
        + "      echo_flush;\n"
        + "      echo_sleep 0.002;\n"
        + "      echo -n '" + sse(chunk("{\"content\":\"Hello\"}", "null")) + sse(chunk("{\"content\":\" there\"}", "null"))
        + sse(chunk("{}", "\"stop\"")) + sse("{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1765000000,"
            + "\"model\":\"bench-stream\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}")
        + "data: [DONE]\\n\\n';\n"
        + "    }\n"
        + "  }\n"
        + "}\n";
    startNginx("mock", conf, mock.port(), mock.streamPort());
    return mock;
  }

  private static String chunk(String delta, String finish) {
    return "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1765000000,\"model\":\"bench-stream\","
        + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]}";
  }

  /** One SSE event; nginx turns {@code \n} in a quoted string into a newline. */
  private static String sse(String data) {
    return "data: " + data + "\\n\\n";
  }

  /** nginx as a plain reverse proxy with a keepalive upstream; the stream server does not buffer. */
  EdgePeersBench.Target startNginxProxy(Mock mock) throws Exception {
    int port = freePort();
    int streamPort = freePort();
    String conf = nginxHead("proxy")
        + "  upstream mock { server 127.0.0.1:" + mock.port() + "; keepalive 64; }\n"
        + "  upstream sse_mock { server 127.0.0.1:" + mock.streamPort() + "; keepalive 64; }\n"
        + "  server {\n"
        + "    listen 127.0.0.1:" + port + ";\n"
        + "    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n"
        + "  }\n"
        + "  server {\n"
        + "    listen 127.0.0.1:" + streamPort + ";\n"
        + "    location / { proxy_pass http://sse_mock; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }\n"
        + "  }\n"
        + "}\n";
    startNginx("proxy", conf, port, streamPort);
    return new EdgePeersBench.Target("nginx", "http://127.0.0.1:" + port + "/v1/chat/completions",
        "http://127.0.0.1:" + streamPort + "/v1/chat/completions", Map.of());
  }

  /** The Portkey OSS gateway (Node.js), told per request to call the mock as an OpenAI-compatible custom host. */
  EdgePeersBench.Target startPortkey(Mock mock) throws Exception {
    Path server = peersDir.resolve("portkey/node_modules/@portkey-ai/gateway/build/start-server.js");
    if (!Files.exists(server)) throw new IllegalStateException("the Portkey gateway is not installed at " + server + ": run bench/peers/install");
    int port = freePort();
    Path log = work.resolve("portkey.log");
    ProcessBuilder pb = new ProcessBuilder("node", server.toString(), "--port=" + port, "--headless")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("NODE_ENV", "production");
    start("portkey", pb, log, port);
    String url = "http://127.0.0.1:" + port + "/v1/chat/completions";
    return new EdgePeersBench.Target("portkey",
        url, Map.of("Authorization", "Bearer sk-bench", "x-portkey-provider", "openai", "x-portkey-custom-host", mock.baseUrl()),
        url, Map.of("Authorization", "Bearer sk-bench", "x-portkey-provider", "openai", "x-portkey-custom-host", mock.streamBaseUrl()));
  }

  private String nginxHead(String name) throws IOException {
    Path dir = Files.createDirectories(work.resolve("nginx-" + name));
    return "load_module " + ECHO_MODULE + ";\n"
        + "worker_processes auto;\n"
        + "daemon off;\n"
        + "pid " + dir.resolve("nginx.pid") + ";\n"
        + "error_log " + dir.resolve("error.log") + " warn;\n"
        + "events { worker_connections 4096; }\n"
        + "http {\n"
        + "  access_log off;\n"
        + "  keepalive_requests 1000000;\n"
        + "  client_body_buffer_size 64k;\n"
        + "  client_body_temp_path " + dir.resolve("body") + ";\n"
        + "  proxy_temp_path " + dir.resolve("proxy") + ";\n"
        + "  fastcgi_temp_path " + dir.resolve("fastcgi") + ";\n"
        + "  uwsgi_temp_path " + dir.resolve("uwsgi") + ";\n"
        + "  scgi_temp_path " + dir.resolve("scgi") + ";\n";
  }

  private void startNginx(String name, String conf, int... ports) throws Exception {
    Path dir = work.resolve("nginx-" + name);
    Path file = dir.resolve("nginx.conf");
    Files.writeString(file, conf);
    Path log = dir.resolve("stderr.log");
    ProcessBuilder pb = new ProcessBuilder("nginx", "-p", dir.toString(), "-c", file.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    start("nginx " + name, pb, dir.resolve("error.log"), ports);
  }

  private void start(String name, ProcessBuilder pb, Path log, int... ports) throws Exception {
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException(name + " could not be started (" + e.getMessage() + "): run bench/peers/install", e);
    }
    started.add(p);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int port : ports) {
      while (!listening(port)) {
        if (!p.isAlive() || System.nanoTime() > until) {
          String tail = Files.exists(log) ? String.join("\n", tail(Files.readAllLines(log), 20)) : "(no log)";
          throw new IllegalStateException(name + " did not listen on 127.0.0.1:" + port + (p.isAlive() ? "" : " (exited " + p.exitValue() + ")")
              + "; its log " + log + ":\n" + tail);
        }
        Thread.sleep(50);
      }
    }
    EdgePeersBench.log("%s listens on %s (pid %d)", name, java.util.Arrays.toString(ports), p.pid());
  }

  private static List<String> tail(List<String> lines, int n) {
    return lines.subList(Math.max(0, lines.size() - n), lines.size());
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Stops what this run started: nginx's master stops its workers on TERM, Node.js exits. */
  @Override
  public void close() {
    for (Process p : started) {
      p.destroy();
    }
    for (Process p : started) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
