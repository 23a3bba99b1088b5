package io.keld.kit;

import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;
import java.util.Map;

/**
 * A request too malformed to reach any route (a URI over the length limit, a broken request line or
 * header) is answered as problem+json too ({@code pekko.http.server.parsing.error-handler}).
 */
public final class ProblemParsingErrorHandler extends ParsingErrorHandler {

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    int code = status.intValue() < 400 || status.intValue() > 599 ? 400 : status.intValue();
    String detail = info.summary() == null || info.summary().isBlank() ? status.reason() : info.summary();
    ProblemType type = ProblemType.forStatus(code);
    return ProblemResponses.response(new Problem(type.uri(), type.title(), code, detail, null, null, Map.of()));
  }
}
