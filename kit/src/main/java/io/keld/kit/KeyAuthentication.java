package io.keld.kit;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import io.keld.ixp.auth.Authenticator;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Every Keld API call carries a key: {@code Authorization: Bearer keld_…} (what the OpenAI SDKs
 * send) or {@code X-Api-Key: keld_…}. A missing, unknown or revoked key is a 401 problem; the key
 * itself is never logged or echoed.
 */
public final class KeyAuthentication {

  private KeyAuthentication() {}

  public static Route authenticated(Authenticator authenticator, Function<Principal, Route> inner) {
    return extractRequest(request -> {
      Optional<String> key = presentedKey(request.getHeader("Authorization"), request.getHeader("X-Api-Key"));
      if (key.isEmpty()) {
        return complete(unauthorized("this API needs a key: send 'Authorization: Bearer keld_…'"));
      }
      return onSuccess(authenticator.authenticate(key.get()), principal -> principal
          .map(inner)
          .orElseGet(() -> complete(unauthorized("the key is not valid (unknown or revoked)"))));
    });
  }

  public static Optional<String> presentedKey(Optional<HttpHeader> authorization, Optional<HttpHeader> apiKey) {
    if (authorization.isPresent()) {
      String value = authorization.get().value().trim();
      if (value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        String token = value.substring(7).trim();
        if (!token.isEmpty()) return Optional.of(token);
      }
      return Optional.empty();
    }
    return apiKey.map(h -> h.value().trim()).filter(v -> !v.isEmpty());
  }

  private static HttpResponse unauthorized(String detail) {
    return ProblemResponses.response(Problem.of(ProblemType.UNAUTHORIZED, detail))
        .addHeader(RawHeader.create("WWW-Authenticate", "Bearer realm=\"keld\""));
  }
}
