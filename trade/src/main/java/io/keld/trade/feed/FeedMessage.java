package io.keld.trade.feed;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.keld.kit.JsonBodies;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.trade.asks.AskView;
import java.time.Instant;
import java.util.List;

/**
 * What Keld sends a provider on the feed (protocol in {@code ixp/spec/trade-feed.asyncapi.yaml}).
 * A record holds a message's members in their order on the wire; the {@code seq} and {@code type}
 * that go in front are each connection's ({@link FeedEvent#render}).
 */
public sealed interface FeedMessage {

  /** The message's type on the wire. */
  @JsonIgnore
  String type();

  /** The members as a compact JSON object, rendered once however many connections it goes to. */
  default String membersJson() {
    try {
      return JsonBodies.MAPPER.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("feed messages are plain records and always serialize", e);
    }
  }

  record Welcome(String orgId, long heartbeatMs, int buffer) implements FeedMessage {
    public String type() {
      return "welcome";
    }
  }

  /** @param id the correlation id of the message answered (left out when it had none) */
  record Ack(String id, AckResult result) implements FeedMessage {
    public String type() {
      return "ack";
    }
  }

  /**
   * @param code  the problem type's slug ({@code invalid-field})
   * @param field the member to blame (left out when there is none)
   */
  record Error(String id, int status, String code, String message, String field) implements FeedMessage {
    public String type() {
      return "error";
    }
  }

  record Heartbeat(Instant at) implements FeedMessage {
    public String type() {
      return "heartbeat";
    }
  }

  record Closing(String reason, String message) implements FeedMessage {
    public String type() {
      return "closing";
    }
  }

  record BookSnapshot(String useCase, long atMillis, List<BookView.PriceLevel> asks, List<BookView.DemandLevel> restingDemand)
      implements FeedMessage {
    public static BookSnapshot of(BookView view) {
      return new BookSnapshot(view.useCase(), view.atMillis(), view.asks(), view.restingDemand());
    }

    public String type() {
      return "book_snapshot";
    }
  }

  /**
   * @param asks          the levels new or changed since the last delta, absolute values
   * @param removedPrices the prices whose level is gone, ascending
   * @param restingDemand the whole resting demand, replacing the previous one
   */
  record BookDelta(String useCase, long atMillis, List<BookView.PriceLevel> asks, List<Long> removedPrices,
      List<BookView.DemandLevel> restingDemand) implements FeedMessage {
    public String type() {
      return "book_delta";
    }
  }

  record FillMessage(ProviderFill fill) implements FeedMessage {
    public String type() {
      return "fill";
    }
  }

  /**
   * A fill as the provider whose ask it filled sees it: no bid, job or enterprise. {@code receipt} is
   * the fill's signed receipt (MATCHING.md, "Fill receipts"; parties by pseudonym), absent when the
   * node could not sign it.
   */
  record ProviderFill(String fillId, String askId, String useCase, String model, long pricePerMtok, long tokens, long startMillis,
      long finishMillis, long deadlineMillis, long filledAtMillis, FillReceipt receipt) {
    public static ProviderFill of(String useCase, Fill f) {
      return of(useCase, f, null);
    }

    public static ProviderFill of(String useCase, Fill f, FillReceipt receipt) {
      return new ProviderFill(f.fillId(), f.askId(), useCase, f.model(), f.pricePerMtok(), f.tokens(), f.startMillis(), f.finishMillis(),
          f.deadlineMillis(), f.filledAtMillis(), receipt);
    }
  }

  record AskState(AskView ask) implements FeedMessage {
    public String type() {
      return "ask_state";
    }
  }

  /** The {@code result} of an {@code ack}: what the command it answers left. */
  sealed interface AckResult {}

  /** After post_ask, amend_ask and withdraw_ask: the ask as it is now. */
  record AskResult(AskView ask) implements AckResult {}

  /** After subscribe and unsubscribe: every book the connection is subscribed to, in the order first subscribed. */
  record Subscribed(List<String> subscribed) implements AckResult {}

  /** After capacity: the limits as sent, the endpoint when one was named, and the asks updated. */
  record CapacityApplied(long tokensPerSecond, int maxConcurrency, String endpointId, List<String> askIds) implements AckResult {}
}
