package io.keld.trade.feed;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import io.keld.kit.InvalidField;
import io.keld.trade.asks.AskAmendment;
import io.keld.trade.asks.AskTerms;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What a provider sends on the feed (protocol in {@code ixp/spec/trade-feed.asyncapi.yaml}), named
 * by its {@code type}. The correlation {@code id} a message may carry is read before its command
 * (an error answers with it even when the command is refused), so it is no member of these records:
 * see {@link IncomingMessage}. Missing and invalid members are refused as the records are built,
 * with the words the feed has always used.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = FeedCommand.PostAsk.class, name = "post_ask"),
  @JsonSubTypes.Type(value = FeedCommand.AmendAsk.class, name = "amend_ask"),
  @JsonSubTypes.Type(value = FeedCommand.WithdrawAsk.class, name = "withdraw_ask"),
  @JsonSubTypes.Type(value = FeedCommand.Capacity.class, name = "capacity"),
  @JsonSubTypes.Type(value = FeedCommand.Subscribe.class, name = "subscribe"),
  @JsonSubTypes.Type(value = FeedCommand.Unsubscribe.class, name = "unsubscribe")
})
public sealed interface FeedCommand {

  /**
   * What a command's own member is told when it is missing or not of its JSON type (the same words
   * for both); members of an ask's or an amendment's terms are told what HTTP bodies are told.
   */
  Map<String, String> MEMBER_RULES = Map.of(
      "ask", "'ask' is required and is a JSON object",
      "ask_id", "ask_id is required",
      "tokens_per_second", "tokens_per_second is a whole number, 0 or more",
      "max_concurrency", "max_concurrency is a whole number, 0 or more",
      "use_cases", "use_cases lists at least one use case");

  /** Members besides {@code type}, {@code id} and {@code ask} are ignored, as the spec says. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record PostAsk(AskTerms ask) implements FeedCommand {
    public PostAsk {
      if (ask == null) throw rule("ask");
    }
  }

  /** Read strictly, like a {@code PATCH} body: a member besides {@code type}, {@code id}, {@code ask_id} and the terms is refused. */
  @JsonIgnoreProperties("id")
  record AmendAsk(String askId, Long pricePerMtok, Integer quality, Long throughputTps, Instant windowFrom, Instant windowUntil)
      implements FeedCommand {
    public AmendAsk {
      if (askId == null) throw rule("ask_id");
      new AskAmendment(pricePerMtok, quality, throughputTps, windowFrom, windowUntil); // refuses terms that change nothing or are out of range
    }

    public AskAmendment amendment() {
      return new AskAmendment(pricePerMtok, quality, throughputTps, windowFrom, windowUntil);
    }
  }

  @JsonIgnoreProperties(ignoreUnknown = true)
  record WithdrawAsk(String askId) implements FeedCommand {
    public WithdrawAsk {
      if (askId == null) throw rule("ask_id");
    }
  }

  /**
   * Live fleet limits for an endpoint's pacing, for asks, or both. The endpoint and ask ids are read
   * as text whatever their JSON type, as they always were (an unknown one is then not found).
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Capacity(Long tokensPerSecond, Integer maxConcurrency,
      @JsonDeserialize(using = LenientText.Value.class) String endpointId,
      @JsonDeserialize(using = LenientText.Values.class) List<String> askIds) implements FeedCommand {
    public Capacity {
      if (tokensPerSecond == null || tokensPerSecond < 0) throw rule("tokens_per_second");
      if (maxConcurrency == null || maxConcurrency < 0) throw rule("max_concurrency");
      askIds = askIds == null ? List.of() : List.copyOf(askIds);
      if (endpointId == null && askIds.isEmpty()) throw new InvalidField("endpoint_id", "capacity names an endpoint_id, ask_ids, or both");
    }
  }

  /** Books to watch; the use cases are read as text and checked against the catalog when the command is handled. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Subscribe(@JsonDeserialize(using = LenientText.ArrayElements.class) List<String> useCases) implements FeedCommand {
    public Subscribe {
      useCases = requireUseCases(useCases);
    }
  }

  @JsonIgnoreProperties(ignoreUnknown = true)
  record Unsubscribe(@JsonDeserialize(using = LenientText.ArrayElements.class) List<String> useCases) implements FeedCommand {
    public Unsubscribe {
      useCases = requireUseCases(useCases);
    }
  }

  private static List<String> requireUseCases(List<String> useCases) {
    if (useCases == null || useCases.isEmpty()) throw rule("use_cases");
    return List.copyOf(useCases);
  }

  private static InvalidField rule(String member) {
    return new InvalidField(member, MEMBER_RULES.get(member));
  }
}
