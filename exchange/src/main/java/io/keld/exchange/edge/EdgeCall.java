package io.keld.exchange.edge;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.atlas.tenancy.Project;
import io.keld.flow.Operation;
import io.keld.ixp.auth.Principal;
import java.time.Instant;
import java.util.Set;

/**
 * One request on the OpenAI-compatible edge, resolved: whose it is, which book and models, the
 * deadline and ceiling, and the body to send (content: in memory only, never logged).
 *
 * @param models         the models the request accepts: the one it named, or any for {@code keld/<use-case>}
 * @param ceilingPerMtok micro-USD per million tokens
 * @param estimatedTokens input plus the output the request allows
 * @param body           the request body, parsed
 * @param bodyBytes      the bytes it was parsed from, sent on as they are when the provider's model is the one they name
 */
record EdgeCall(Principal principal, Project project, Operation operation, String requestedModel, String useCase, Set<String> models,
    Instant receivedAt, Instant deadline, long ceilingPerMtok, long estimatedTokens, boolean stream, ObjectNode body, byte[] bodyBytes) {

  @Override
  public String toString() {
    return "EdgeCall[project=" + project.id() + ", useCase=" + useCase + ", model=" + requestedModel + ", body=<redacted>]";
  }
}
