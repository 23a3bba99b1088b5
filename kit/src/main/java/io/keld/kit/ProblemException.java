package io.keld.kit;

import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;

/**
 * A failure that already knows its problem+json answer. Route code throws it (or fails a future
 * with it); {@link ProblemResponses#exceptionHandler()} answers with the problem, logging nothing.
 */
public final class ProblemException extends RuntimeException {

  private final transient Problem problem;

  public ProblemException(Problem problem) {
    super(problem.detail(), null, false, false);
    this.problem = problem;
  }

  public static ProblemException of(ProblemType type, String detail) {
    return new ProblemException(Problem.of(type, detail));
  }

  public static ProblemException notFound(String what) {
    return of(ProblemType.NOT_FOUND, what + " does not exist");
  }

  public static ProblemException invalid(String field, String detail) {
    return new ProblemException(Problem.of(ProblemType.INVALID_FIELD, detail).withField(field));
  }

  public Problem problem() {
    return problem;
  }
}
