package io.keld.exchange.clearing;

import static io.keld.ixp.Texts.clip;
import static io.keld.kit.JsonBodies.response;
import static org.apache.pekko.http.javadsl.server.Directives.*;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.keld.exchange.clearing.ClearingKeyStore.PublishedKey;
import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.kit.Json;
import io.keld.kit.KeyAuthentication;
import io.keld.kit.ProblemException;
import io.keld.marketplace.clearing.BookLogEntry;
import java.util.List;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.util.ByteString;

/**
 * The verifiable-clearing part of {@code /ixp/v1} (MATCHING.md, "Verify it yourself"), for any
 * participant's key, enterprise or provider:
 * <ul>
 *   <li>{@code GET /ixp/v1/books/{use_case}/events?after=&limit=}: a page of the book's public log;</li>
 *   <li>{@code GET /ixp/v1/books/{use_case}/events/stream?after=}: the same log live, as ndjson;</li>
 *   <li>{@code GET /ixp/v1/books/{use_case}/receipts/{seq}}: the signed receipt of the fill at {@code seq};</li>
 *   <li>{@code GET /ixp/v1/keys}: the receipt keys, without authentication (anyone may check a receipt).</li>
 * </ul>
 */
public final class BookLogRoutes {

  public static final ContentType NDJSON = ContentTypes.parse("application/x-ndjson");
  static final int DEFAULT_LIMIT = 1_000;
  static final int MAX_LIMIT = 10_000;

  /** {@code GET /ixp/v1/keys}. */
  public record KeyList(String object, List<PublishedKey> keys, String current) {}

  private final Authenticator authenticator;
  private final BookLogs logs;

  public BookLogRoutes(Authenticator authenticator, BookLogs logs) {
    this.authenticator = authenticator;
    this.logs = logs;
  }

  public Route route() {
    return pathPrefix("ixp", () -> pathPrefix("v1", () -> concat(
        path("keys", () -> get(() -> complete(response(StatusCodes.OK,
            new KeyList("list", logs.keys().published(), logs.keys().signer().keyId()))))),
        pathPrefix("books", () -> KeyAuthentication.authenticated(authenticator, p -> pathPrefix(PathMatchers.segment(), book -> concat(
            // The book is checked in each route, so a path that is none of them stays the plain "no such route" 404.
            path("events", () -> get(() -> knownBook(book, () -> parameterMap(params -> page(p, book, params))))),
            path(PathMatchers.segment("events").slash("stream"), () -> get(() -> knownBook(book, () -> parameterMap(params -> follow(p, book, params))))),
            path(PathMatchers.segment("receipts").slash(PathMatchers.segment()), seq -> get(() -> knownBook(book, () -> receipt(book, seq)))))))))));
  }

  private Route knownBook(String book, java.util.function.Supplier<Route> inner) {
    if (!logs.knows(book)) throw ProblemException.notFound("book '" + clip(book) + "' (no such use case)");
    return inner.get();
  }

  private Route page(Principal p, String book, Map<String, String> params) {
    known(params, "after", "limit");
    long after = after(params);
    int limit = DEFAULT_LIMIT;
    if (params.containsKey("limit")) {
      long l = number(params.get("limit"), "limit", "limit is a whole number from 1 to " + MAX_LIMIT);
      if (l < 1 || l > MAX_LIMIT) throw ProblemException.invalid("limit", "limit is a whole number from 1 to " + MAX_LIMIT);
      limit = (int) l;
    }
    return onSuccess(logs.page(p, book, after, limit), page -> complete(response(StatusCodes.OK, page)));
  }

  private Route follow(Principal p, String book, Map<String, String> params) {
    known(params, "after");
    long after = after(params);
    return complete(HttpResponse.create().withEntity(HttpEntities.createChunked(NDJSON,
        logs.follow(p, book, after).map(BookLogRoutes::line))));
  }

  private Route receipt(String book, String seqText) {
    long seq = number(seqText, "seq", "seq is the sequence number of a fill in the book's log, a whole number from 1");
    if (seq < 1) throw ProblemException.invalid("seq", "seq is the sequence number of a fill in the book's log, a whole number from 1");
    return onSuccess(logs.receipt(book, seq), receipt -> complete(response(StatusCodes.OK,
        receipt.orElseThrow(() -> ProblemException.notFound("fill at seq " + seq + " of book " + book)))));
  }

  private static ByteString line(BookLogEntry entry) {
    try {
      return ByteString.fromArray(Json.WIRE.writeValueAsBytes(entry)).concat(ByteString.fromString("\n"));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a book event did not serialize", e);
    }
  }

  private static void known(Map<String, String> params, String... names) {
    for (String name : params.keySet()) {
      if (!List.of(names).contains(name)) {
        throw ProblemException.invalid(name, "unknown query parameter '" + clip(name) + "'; known: " + String.join(", ", names));
      }
    }
  }

  private static long after(Map<String, String> params) {
    if (!params.containsKey("after")) return 0;
    long after = number(params.get("after"), "after", "after is a sequence number, a whole number from 0");
    if (after < 0) throw ProblemException.invalid("after", "after is a sequence number, a whole number from 0");
    return after;
  }

  private static long number(String text, String field, String detail) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw ProblemException.invalid(field, detail);
    }
  }
}
