package io.keld.ixp.client;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * One full-duplex HTTP/1.1 POST: the request body is written on a thread of its own while the
 * response is read on the caller's. The data plane needs this: the node reads items only as fast
 * as the provider answers them and answers them on the open response, so a client that sent the
 * whole body before reading (as {@code java.net.http.HttpClient} does over HTTP/1.1) would deadlock
 * once both directions' buffers fill. TCP's own flow control is the backpressure here: the writer
 * blocks while the node is not reading.
 */
final class DuplexUpload {

  private static final int CHUNK_BYTES = 16 * 1024;
  private static final int CONNECT_TIMEOUT_MS = 10_000;

  private DuplexUpload() {}

  /** The response of an upload that did not start (a status other than 200), with its body. */
  record Refusal(int status, String contentType, String body) {}

  /**
   * Posts to {@code uri}, writing the body with {@code items} while calling {@code onLine} for every
   * non-blank line of the response body.
   *
   * @return null when the response was 200 and has ended; the refusal otherwise
   */
  static Refusal post(URI uri, Map<String, String> headers, IxpClient.ItemSource items, Consumer<String> onLine) throws IOException {
    boolean tls = "https".equalsIgnoreCase(uri.getScheme());
    int port = uri.getPort() != -1 ? uri.getPort() : tls ? 443 : 80;
    Socket socket = tls ? SSLSocketFactory.getDefault().createSocket() : new Socket();
    AtomicReference<Throwable> writerFailure = new AtomicReference<>();
    try (socket) {
      if (socket instanceof SSLSocket ssl) {
        // A plain SSLSocket checks the certificate chain but not that it names this host: ask for that too.
        SSLParameters params = ssl.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        ssl.setSSLParameters(params);
      }
      socket.setKeepAlive(true);
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(uri.getHost(), port), CONNECT_TIMEOUT_MS);
      OutputStream out = socket.getOutputStream();
      StringBuilder head = new StringBuilder();
      String path = uri.getRawPath() + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
      head.append("POST ").append(path).append(" HTTP/1.1\r\n");
      head.append("Host: ").append(uri.getHost()).append(uri.getPort() != -1 ? ":" + uri.getPort() : "").append("\r\n");
      headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
      head.append("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
      out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();

      Thread writer = new Thread(() -> {
        ChunkedSink sink = new ChunkedSink(out);
        try {
          items.writeTo(sink);
          sink.finish();
        } catch (Throwable t) {
          // The node stopped reading (it answered early, or the connection dropped): the reader
          // hears what it said or that the connection is gone; nothing more to write.
          if (sink.broken) return;
          // The items' own source failed: the node must not take a cut-off body for a whole one.
          writerFailure.set(t);
          try {
            socket.close();
          } catch (IOException ignored) {
            // closing anyway
          }
        }
      }, "ixp-upload-writer");
      writer.setDaemon(true);
      writer.start();

      InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
      String statusLine = readHeaderLine(in);
      if (statusLine == null) throw new IOException("the node closed the connection before answering");
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2) throw new IOException("not an HTTP response: " + statusLine);
      int status = Integer.parseInt(parts[1]);
      Map<String, String> responseHeaders = new LinkedHashMap<>();
      for (String h; (h = readHeaderLine(in)) != null && !h.isEmpty(); ) {
        int colon = h.indexOf(':');
        if (colon > 0) responseHeaders.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
      }
      InputStream body = "chunked".equalsIgnoreCase(responseHeaders.get("transfer-encoding")) ? new ChunkedInputStream(in)
          : responseHeaders.containsKey("content-length") ? new BoundedInputStream(in, Long.parseLong(responseHeaders.get("content-length")))
          : in;
      if (status != 200) {
        return new Refusal(status, responseHeaders.getOrDefault("content-type", ""), new String(body.readAllBytes(), StandardCharsets.UTF_8));
      }
      try {
        BufferedReader reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8), 64 * 1024);
        for (String line; (line = reader.readLine()) != null; ) {
          if (!line.isBlank()) onLine.accept(line);
        }
      } catch (IOException e) {
        Throwable cause = writerFailure.get();
        if (cause instanceof IOException io) throw io;
        if (cause instanceof RuntimeException r) throw r;
        if (cause instanceof Error err) throw err;
        throw e;
      }
      Throwable cause = writerFailure.get();
      if (cause instanceof RuntimeException r) throw r;
      return null;
    }
  }

  /** A header line up to CRLF, as ISO-8859-1; null at the end of the stream. */
  private static String readHeaderLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') break;
      if (c != '\r') line.write(c);
      if (line.size() > 64 * 1024) throw new IOException("an HTTP header line longer than 64 KiB");
    }
    if (c == -1 && line.size() == 0) return null;
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  /** Lines in, HTTP chunks of up to 16 KiB out. */
  private static final class ChunkedSink implements IxpClient.ItemSink {
    private final OutputStream out;
    private final byte[] buffer = new byte[CHUNK_BYTES];
    private int used;
    /** A write to the socket failed: the node is not reading any more. */
    volatile boolean broken;

    ChunkedSink(OutputStream out) {
      this.out = out;
    }

    @Override
    public void send(byte[] line) throws IOException {
      if (used + line.length + 1 > buffer.length) flushChunk();
      if (line.length + 1 > buffer.length) {
        writeChunk(line, line.length);
        writeChunk(new byte[] {'\n'}, 1);
        return;
      }
      System.arraycopy(line, 0, buffer, used, line.length);
      used += line.length;
      buffer[used++] = '\n';
    }

    @Override
    public void flush() throws IOException {
      flushChunk();
      try {
        out.flush();
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    void finish() throws IOException {
      flushChunk();
      try {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    private void flushChunk() throws IOException {
      if (used == 0) return;
      writeChunk(buffer, used);
      used = 0;
    }

    private void writeChunk(byte[] bytes, int length) throws IOException {
      try {
        out.write((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(bytes, 0, length);
        out.write('\r');
        out.write('\n');
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }
  }

  /** A chunked response body, decoded. */
  private static final class ChunkedInputStream extends InputStream {
    private final InputStream in;
    private long left;
    private boolean done;

    ChunkedInputStream(InputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (done) return -1;
      if (left == 0) {
        String size = readHeaderLine(in);
        if (size == null) throw new IOException("the response ended inside its body (connection dropped)");
        int semi = size.indexOf(';');
        left = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
        if (left == 0) {
          // trailers, then the blank line
          for (String t; (t = readHeaderLine(in)) != null && !t.isEmpty(); ) { /* ignored */ }
          done = true;
          return -1;
        }
      }
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n == -1) throw new IOException("the response ended inside a chunk (connection dropped)");
      left -= n;
      if (left == 0) readHeaderLine(in); // the CRLF after the chunk
      return n;
    }
  }

  private static final class BoundedInputStream extends InputStream {
    private final InputStream in;
    private long left;

    BoundedInputStream(InputStream in, long length) {
      this.in = in;
      this.left = length;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) return -1;
      int c = in.read();
      if (c != -1) left--;
      return c;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left <= 0) return -1;
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n > 0) left -= n;
      return n;
    }
  }
}
