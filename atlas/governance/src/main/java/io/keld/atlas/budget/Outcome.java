package io.keld.atlas.budget;

import java.util.List;

/** What a {@link BudgetLedger} decided about one command. */
public sealed interface Outcome {

  /** Accepted: persist these events (none when the command repeats one already done). */
  record Done(List<BudgetEvent> events) implements Outcome {}

  /** A hard cap or token quota refuses the reservation. */
  record Refused(Refusal refusal) implements Outcome {}

  /** The command cannot apply: unknown reservation, reused id, bad figures. */
  record Rejected(Reason reason, String detail) implements Outcome {}

  enum Reason { NOT_FOUND, CONFLICT, INVALID }
}
