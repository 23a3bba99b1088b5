package io.keld.node.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import io.keld.kit.ProblemResponses;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code /docs}: Swagger UI (the {@code org.webjars:swagger-ui} jar, served from the classpath) over
 * the node's own API documents ({@code ixp/spec/*.yaml}, packaged into the node's jar under
 * {@code keld-spec/}), so what a reader browses is what this node was built with. No key needed.
 */
public final class DocsRoutes {

  /** The documents the node serves, in the order Swagger UI lists them; the AsyncAPI one is served but Swagger UI cannot show it. */
  public static final List<String> OPENAPI_DOCUMENTS = List.of("atlas.openapi.yaml", "ixp.openapi.yaml", "trade.openapi.yaml",
      "node.openapi.yaml");
  public static final List<String> DOCUMENTS = List.of("atlas.openapi.yaml", "ixp.openapi.yaml", "trade.openapi.yaml", "node.openapi.yaml",
      "trade-feed.asyncapi.yaml");
  private static final String SPEC_DIR = "keld-spec/";
  private static final Pattern ASSET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,100}");

  private final String swaggerUiDir;
  private final String page;

  public DocsRoutes() {
    this.swaggerUiDir = "META-INF/resources/webjars/swagger-ui/" + swaggerUiVersion() + "/";
    StringBuilder urls = new StringBuilder();
    for (String doc : OPENAPI_DOCUMENTS) {
      if (urls.length() > 0) urls.append(",\n      ");
      urls.append("{url: \"specs/").append(doc).append("\", name: \"").append(doc).append("\"}");
    }
    this.page = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>Keld APIs</title>
          <link rel="stylesheet" href="swagger-ui/swagger-ui.css">
        </head>
        <body>
          <div id="swagger-ui"></div>
          <script src="swagger-ui/swagger-ui-bundle.js"></script>
          <script src="swagger-ui/swagger-ui-standalone-preset.js"></script>
          <script>
            window.ui = SwaggerUIBundle({
              urls: [
              %s
              ],
              dom_id: "#swagger-ui",
              presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
              layout: "StandaloneLayout"
            });
          </script>
        </body>
        </html>
        """.formatted(urls);
  }

  public Route route() {
    return pathPrefix("docs", () -> get(() -> concat(
        pathEnd(() -> redirect(Uri.create("/docs/"), StatusCodes.PERMANENT_REDIRECT)),
        pathSingleSlash(() -> complete(HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.TEXT_HTML_UTF8, page)))),
        path(PathMatchers.segment("specs").slash(PathMatchers.segment()), doc -> {
          if (!DOCUMENTS.contains(doc)) return complete(notFound("no document " + doc + "; the node serves " + String.join(", ", DOCUMENTS)));
          byte[] bytes = resource(SPEC_DIR + doc);
          if (bytes == null) return complete(notFound("the document " + doc + " is not in this node's jar"));
          return complete(HttpResponse.create().withEntity(HttpEntities.create(
              ContentTypes.create(MediaTypes.applicationWithOpenCharset("yaml"), HttpCharsets.UTF_8), bytes)));
        }),
        path(PathMatchers.segment("swagger-ui").slash(PathMatchers.segment()), file -> {
          if (!ASSET.matcher(file).matches() || resource(swaggerUiDir + file) == null) return complete(notFound("no file " + file));
          return getFromResource(swaggerUiDir + file);
        }))));
  }

  private static HttpResponse notFound(String detail) {
    return ProblemResponses.response(Problem.of(ProblemType.NOT_FOUND, detail));
  }

  private static byte[] resource(String name) {
    try (InputStream in = DocsRoutes.class.getClassLoader().getResourceAsStream(name)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The webjar's version, from its Maven metadata, so upgrading the dependency needs no code change. */
  static String swaggerUiVersion() {
    try (InputStream in = DocsRoutes.class.getClassLoader().getResourceAsStream("META-INF/maven/org.webjars/swagger-ui/pom.properties")) {
      if (in == null) throw new IllegalStateException("org.webjars:swagger-ui is not on the classpath");
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
