package io.keld.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Streaming time to first byte: one keepalive connection, one streamed chat request at a time,
 * written and read on a plain socket so nothing between the wire and the clock buffers. The time is
 * from the request's last byte written to the first byte of the response body (the first SSE event);
 * the rest of the stream is read to its end before the next request.
 */
final class StreamClient {

  /** @param withoutDone 2xx streams that ended without {@code data: [DONE]} (a gateway that leaves it out) */
  record Result(Histogram ttfb, long non2xx, long withoutDone) {}

  static Result timeToFirstByte(EdgePeersBench.Target target, String body, int warmUp, int count) throws IOException {
    URI uri = URI.create(target.streamUrl());
    byte[] payload = body.getBytes(StandardCharsets.UTF_8);
    StringBuilder requestHead = new StringBuilder();
    requestHead.append("POST ").append(uri.getRawPath()).append(" HTTP/1.1\r\n")
        .append("Host: ").append(uri.getHost()).append(':').append(uri.getPort()).append("\r\n")
        .append("Content-Type: application/json\r\nAccept: text/event-stream\r\n")
        .append("Content-Length: ").append(payload.length).append("\r\n");
    target.streamHeaders().forEach((k, v) -> requestHead.append(k).append(": ").append(v).append("\r\n"));
    requestHead.append("\r\n");
    ByteArrayOutputStream request = new ByteArrayOutputStream();
    request.write(requestHead.toString().getBytes(StandardCharsets.ISO_8859_1));
    request.write(payload);
    byte[] bytes = request.toByteArray();

    Histogram h = new Histogram();
    long non2xx = 0;
    long withoutDone = 0;
    try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
      for (int i = 0; i < warmUp + count; i++) {
        out.write(bytes);
        out.flush();
        long sent = System.nanoTime();
        Head head = readHead(in);
        Response r = readBody(in, head);
        if (head.status() / 100 != 2) non2xx++;
        else if (!r.sawDone) withoutDone++;
        if (i >= warmUp) h.record((r.firstByteNanos - sent) / 1_000, 1);
        if (r.close) throw new IOException(target.name() + " closed the stream connection");
      }
    }
    return new Result(h, non2xx, withoutDone);
  }

  private record Response(long firstByteNanos, boolean sawDone, boolean close) {}

  /** The status and how the body is framed. */
  private record Head(int status, boolean chunked, long contentLength, boolean close) {}

  private static Head readHead(InputStream in) throws IOException {
    String statusLine = line(in);
    int status = Integer.parseInt(statusLine.split(" ")[1]);
    boolean chunked = false;
    long contentLength = -1;
    boolean close = false;
    for (String h; !(h = line(in)).isEmpty(); ) {
      String lower = h.toLowerCase(Locale.ROOT);
      if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) chunked = true;
      else if (lower.startsWith("content-length:")) contentLength = Long.parseLong(lower.substring(15).trim());
      else if (lower.startsWith("connection:") && lower.contains("close")) close = true;
    }
    return new Head(status, chunked, contentLength, close);
  }

  private static Response readBody(InputStream in, Head head) throws IOException {
    long first = 0;
    long contentLength = head.contentLength();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (head.chunked()) {
      while (true) {
        String size = line(in);
        int semi = size.indexOf(';');
        long n = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
        if (n == 0) {
          while (!line(in).isEmpty()) { } // trailers
          break;
        }
        for (long k = 0; k < n; k++) {
          int b = in.read();
          if (b < 0) throw new IOException("the stream ended inside a chunk");
          if (first == 0) first = System.nanoTime();
          body.write(b);
        }
        line(in); // the chunk's CRLF
      }
    } else if (contentLength >= 0) {
      for (long k = 0; k < contentLength; k++) {
        int b = in.read();
        if (b < 0) throw new IOException("the answer ended early");
        if (first == 0) first = System.nanoTime();
        body.write(b);
      }
    } else {
      throw new IOException("an answer without a length on a keepalive connection");
    }
    if (first == 0) first = System.nanoTime();
    boolean done = body.toString(StandardCharsets.UTF_8).contains("data: [DONE]");
    return new Response(first, done, head.close());
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder s = new StringBuilder();
    for (int b; (b = in.read()) != '\n'; ) {
      if (b < 0) throw new IOException("the connection closed");
      if (b != '\r') s.append((char) b);
    }
    return s.toString();
  }

  private StreamClient() {}
}
