package io.keld.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.io.ByteArrayOutputStream;

/**
 * Many WebSocket client connections on one selector thread: the load generator of
 * {@code bench/run trade-feed}. It speaks the part of RFC 6455 a feed client needs (the upgrade
 * handshake, masked text frames out; text, continuation, ping, pong and close frames in) with a
 * few microseconds of work per message, so that 200 simulated providers do not take the cores the
 * node is measured on. The tests use the JDK's client instead; this one exists only to be cheap.
 */
final class LeanWebSockets implements AutoCloseable {

  /** What a connection is told. Called on the selector thread, one message at a time per connection. */
  interface Listener {
    void onText(String text, long receivedNanos);

    void onClosed(String reason);
  }

  /** One connection. {@link #send} may be called from any thread. */
  final class Connection {
    private final SocketChannel channel;
    private final Listener listener;
    private final ConcurrentLinkedQueue<ByteBuffer> toSend = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<ByteBuffer> writing = new ArrayDeque<>();
    private ByteBuffer in = ByteBuffer.allocate(64 * 1024);
    private final ByteArrayOutputStream fragments = new ByteArrayOutputStream();
    private boolean upgraded;
    private boolean closed;
    private SelectionKey key;

    private Connection(SocketChannel channel, Listener listener) {
      this.channel = channel;
      this.listener = listener;
    }

    /** Queues one text message (sent as one masked frame). */
    void send(String text) {
      toSend.add(frame(0x1, text.getBytes(StandardCharsets.UTF_8)));
      pending.add(this);
      selector.wakeup();
    }

    /** Sends a close frame; the server answers it and closes. */
    void close() {
      toSend.add(frame(0x8, new byte[] {0x03, (byte) 0xE8})); // 1000, normal closure
      pending.add(this);
      selector.wakeup();
    }
  }

  private final Selector selector;
  private final Thread loop;
  private final ConcurrentLinkedQueue<Connection> pending = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Connection> registering = new ConcurrentLinkedQueue<>();
  private volatile boolean running = true;

  LeanWebSockets() throws IOException {
    selector = Selector.open();
    loop = new Thread(this::run, "lean-websockets");
    loop.setDaemon(true);
    loop.start();
  }

  /** Opens a connection to {@code uri} (ws://) with the given Authorization header; messages go to {@code listener}. */
  Connection connect(URI uri, String authorization, Listener listener) throws IOException {
    SocketChannel channel = SocketChannel.open(new InetSocketAddress(uri.getHost(), uri.getPort()));
    channel.socket().setTcpNoDelay(true);
    channel.configureBlocking(false);
    Connection c = new Connection(channel, listener);
    byte[] nonce = new byte[16];
    new SecureRandom().nextBytes(nonce);
    String request = "GET " + uri.getRawPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + ":" + uri.getPort()
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce)
        + "\r\nSec-WebSocket-Version: 13\r\nAuthorization: " + authorization + "\r\n\r\n";
    c.writing.add(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII))); // frames wait for the server's 101
    registering.add(c);
    pending.add(c);
    selector.wakeup();
    return c;
  }

  private void run() {
    try {
      while (running) {
        selector.select(100);
        for (Connection c; (c = registering.poll()) != null; ) c.key = c.channel.register(selector, SelectionKey.OP_READ, c);
        Connection c;
        for (int i = pending.size(); i > 0 && (c = pending.poll()) != null; i--) write(c);
        Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
          SelectionKey k = keys.next();
          keys.remove();
          c = (Connection) k.attachment();
          if (!k.isValid()) continue;
          if (k.isWritable()) write(c);
          if (k.isValid() && k.isReadable()) read(c);
        }
      }
    } catch (IOException e) {
      System.err.println("lean-websockets: " + e);
    }
  }

  private void write(Connection c) {
    if (c.closed || c.key == null) {
      if (!c.closed) pending.add(c); // not registered yet: after the next select
      return;
    }
    try {
      if (c.upgraded) for (ByteBuffer b; (b = c.toSend.poll()) != null; ) c.writing.add(b);
      while (!c.writing.isEmpty()) {
        ByteBuffer b = c.writing.peek();
        c.channel.write(b);
        if (b.hasRemaining()) break;
        c.writing.poll();
      }
      c.key.interestOps(c.writing.isEmpty() ? SelectionKey.OP_READ : SelectionKey.OP_READ | SelectionKey.OP_WRITE);
    } catch (IOException e) {
      end(c, "write failed: " + e.getMessage());
    }
  }

  private void read(Connection c) {
    try {
      if (!c.in.hasRemaining()) {
        ByteBuffer bigger = ByteBuffer.allocate(c.in.capacity() * 2);
        c.in.flip();
        bigger.put(c.in);
        c.in = bigger;
      }
      int n = c.channel.read(c.in);
      if (n < 0) {
        end(c, "the server closed the connection");
        return;
      }
      long now = System.nanoTime();
      c.in.flip();
      if (!c.upgraded && !handshake(c)) {
        c.in.compact();
        return;
      }
      while (frameIn(c, now)) {
        // each complete frame handled
      }
      c.in.compact();
    } catch (IOException e) {
      end(c, "read failed: " + e.getMessage());
    }
  }

  /** Reads the server's answer to the upgrade; true once it is whole (and was 101). */
  private boolean handshake(Connection c) throws IOException {
    int end = -1;
    for (int i = c.in.position(); i + 3 < c.in.limit(); i++) {
      if (c.in.get(i) == '\r' && c.in.get(i + 1) == '\n' && c.in.get(i + 2) == '\r' && c.in.get(i + 3) == '\n') {
        end = i + 4;
        break;
      }
    }
    if (end < 0) return false;
    byte[] head = new byte[end - c.in.position()];
    c.in.get(head);
    String status = new String(head, StandardCharsets.US_ASCII);
    if (!status.startsWith("HTTP/1.1 101")) {
      end(c, "upgrade refused: " + status.lines().findFirst().orElse(""));
      throw new IOException("upgrade refused: " + status.lines().findFirst().orElse(""));
    }
    c.upgraded = true;
    write(c); // what was queued meanwhile
    return true;
  }

  /** Handles one whole frame at the buffer's position, if there is one. */
  private boolean frameIn(Connection c, long now) {
    ByteBuffer in = c.in;
    if (in.remaining() < 2) return false;
    int start = in.position();
    int b0 = in.get(start) & 0xff;
    int b1 = in.get(start + 1) & 0xff;
    boolean fin = (b0 & 0x80) != 0;
    int opcode = b0 & 0x0f;
    long length = b1 & 0x7f;
    int header = 2;
    if (length == 126) {
      if (in.remaining() < 4) return false;
      length = in.getShort(start + 2) & 0xffff;
      header = 4;
    } else if (length == 127) {
      if (in.remaining() < 10) return false;
      length = in.getLong(start + 2);
      header = 10;
    }
    if ((b1 & 0x80) != 0) header += 4; // a server never masks; tolerated anyway (and not unmasked: nothing here is read then)
    if (in.remaining() < header + length) return false;
    byte[] payload = new byte[(int) length];
    in.position(start + header);
    in.get(payload);
    switch (opcode) {
      case 0x1, 0x0 -> {
        if (fin && c.fragments.size() == 0) {
          deliver(c, new String(payload, StandardCharsets.UTF_8), now);
        } else {
          c.fragments.write(payload, 0, payload.length); // decoded whole: a character may span fragments
          if (fin) {
            String whole = c.fragments.toString(StandardCharsets.UTF_8);
            c.fragments.reset();
            deliver(c, whole, now);
          }
        }
      }
      case 0x8 -> end(c, "closed by the server" + (payload.length > 2 ? ": " + new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : ""));
      case 0x9 -> {
        c.toSend.add(frame(0xA, payload));
        write(c);
      }
      default -> { } // pong, binary: nothing to do
    }
    return !c.closed;
  }

  /** A listener's failure is reported, and the selector thread goes on serving the other connections. */
  private static void deliver(Connection c, String text, long now) {
    try {
      c.listener.onText(text, now);
    } catch (RuntimeException e) {
      System.err.println("lean-websockets: a listener failed: " + e);
    }
  }

  private void end(Connection c, String reason) {
    if (c.closed) return;
    c.closed = true;
    try {
      c.channel.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    try {
      c.listener.onClosed(reason);
    } catch (RuntimeException e) {
      System.err.println("lean-websockets: a listener failed: " + e);
    }
  }

  /** A client frame: FIN, the opcode, the mask bit and key, the masked payload. */
  private static ByteBuffer frame(int opcode, byte[] payload) {
    int len = payload.length;
    ByteBuffer f = ByteBuffer.allocate(14 + len);
    f.put((byte) (0x80 | opcode));
    if (len < 126) {
      f.put((byte) (0x80 | len));
    } else if (len < 65536) {
      f.put((byte) (0x80 | 126));
      f.putShort((short) len);
    } else {
      f.put((byte) (0x80 | 127));
      f.putLong(len);
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    f.put(mask);
    for (int i = 0; i < len; i++) f.put((byte) (payload[i] ^ mask[i & 3]));
    f.flip();
    return f;
  }

  @Override
  public void close() throws IOException {
    running = false;
    selector.wakeup();
    try {
      loop.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    selector.close();
  }
}
