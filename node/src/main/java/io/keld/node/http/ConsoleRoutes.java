package io.keld.node.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import io.keld.kit.ProblemResponses;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.EntityTag;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code /console/}: the Keld Console, static files from the jar ({@code keld-console/}: plain ES
 * modules, no build step) and Apache ECharts from its WebJar at {@code /console/lib/}. The page holds
 * no data and needs no key to load; it signs in with a Keld API key kept in the tab's session storage
 * and calls the public APIs with it as a bearer header (no cookie, so no CSRF surface).
 *
 * <p>Every answer carries a strict Content-Security-Policy: scripts, styles, images and connections
 * only from this node, no inline script or style, no framing, no forms. (ECharts draws on a canvas and
 * sizes it through the CSSOM, which the policy allows; its tooltips are drawn as rich text, not HTML.)
 */
public final class ConsoleRoutes {

  private static final String DIR = "keld-console/";
  /** The console's own files: flat, named by this pattern. */
  private static final Pattern FILE = Pattern.compile("[a-z][a-z0-9-]{0,60}\\.(js|css|svg|html)");
  public static final String CONTENT_SECURITY_POLICY = String.join("; ",
      "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
      "connect-src 'self'", "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'");
  private static final List<HttpHeader> HEADERS = List.of(
      RawHeader.create("Content-Security-Policy", CONTENT_SECURITY_POLICY),
      RawHeader.create("X-Content-Type-Options", "nosniff"),
      RawHeader.create("Referrer-Policy", "no-referrer"),
      RawHeader.create("Cache-Control", "no-cache"));
  private static final ContentType.WithCharset JAVASCRIPT =
      ContentTypes.create(MediaTypes.applicationWithOpenCharset("javascript"), HttpCharsets.UTF_8);

  private final Map<String, String> libraries;
  /** Files of the jar never change while the node runs: each is read and tagged once. */
  private final Map<String, Optional<Tagged>> files = new ConcurrentHashMap<>();

  private record Tagged(byte[] bytes, EntityTag tag) {}

  public ConsoleRoutes() {
    // The libraries the console imports, by the name it imports them under.
    this.libraries = Map.of("echarts.esm.min.js",
        "META-INF/resources/webjars/echarts/" + webjarVersion("org.webjars.npm", "echarts") + "/dist/echarts.esm.min.js");
  }

  public Route route() {
    return pathPrefix("console", () -> get(() -> respondWithHeaders(HEADERS, () -> concat(
        pathEnd(() -> redirect(Uri.create("/console/"), StatusCodes.PERMANENT_REDIRECT)),
        pathSingleSlash(() -> file("index.html")),
        path(PathMatchers.segment("lib").slash(PathMatchers.segment()), lib -> {
          String resource = libraries.get(lib);
          Optional<Tagged> file = resource == null ? Optional.empty() : tagged(resource);
          if (file.isEmpty()) return complete(notFound("no library " + lib + "; the console has " + String.join(", ", libraries.keySet())));
          return serve(file.get(), JAVASCRIPT);
        }),
        path(PathMatchers.segment(), this::file)))));
  }

  private Route file(String name) {
    Optional<Tagged> file = FILE.matcher(name).matches() ? tagged(DIR + name) : Optional.empty();
    if (file.isEmpty()) return complete(notFound("no file " + name + " in the console"));
    return serve(file.get(), contentType(name));
  }

  /** With its ETag, so a browser revalidates (no-cache) and gets 304 for an unchanged file, keeping its compiled scripts. */
  private static Route serve(Tagged file, ContentType type) {
    return conditional(file.tag(), () -> complete(HttpResponse.create()
        .withEntity(HttpEntities.create(type, file.bytes()))));
  }

  private Optional<Tagged> tagged(String resource) {
    return files.computeIfAbsent(resource, r -> {
      byte[] bytes = resource(r);
      if (bytes == null) return Optional.empty();
      try {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
        return Optional.of(new Tagged(bytes, EntityTag.create(HexFormat.of().formatHex(digest, 0, 16), false)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  private static ContentType contentType(String name) {
    if (name.endsWith(".js")) return JAVASCRIPT;
    if (name.endsWith(".css")) return ContentTypes.create(MediaTypes.TEXT_CSS, HttpCharsets.UTF_8);
    if (name.endsWith(".svg")) return MediaTypes.IMAGE_SVG_XML.toContentType();
    return ContentTypes.TEXT_HTML_UTF8;
  }

  private static HttpResponse notFound(String detail) {
    return ProblemResponses.response(Problem.of(ProblemType.NOT_FOUND, detail));
  }

  private static byte[] resource(String name) {
    try (InputStream in = ConsoleRoutes.class.getClassLoader().getResourceAsStream(name)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A webjar's version from its Maven metadata, so upgrading the dependency needs no code change. */
  static String webjarVersion(String group, String artifact) {
    String name = "META-INF/maven/" + group + "/" + artifact + "/pom.properties";
    try (InputStream in = ConsoleRoutes.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) throw new IllegalStateException(group + ":" + artifact + " is not on the classpath");
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
