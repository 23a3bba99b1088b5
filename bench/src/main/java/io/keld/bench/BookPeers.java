package io.keld.bench;

import exchange.core2.core.common.CoreSymbolSpecification;
import exchange.core2.core.common.OrderAction;
import exchange.core2.core.common.OrderType;
import exchange.core2.core.common.SymbolType;
import exchange.core2.core.common.cmd.CommandResultCode;
import exchange.core2.core.common.cmd.OrderCommand;
import exchange.core2.core.common.cmd.OrderCommandType;
import exchange.core2.core.common.config.LoggingConfiguration;
import exchange.core2.core.orderbook.IOrderBook;
import exchange.core2.core.orderbook.OrderBookDirectImpl;
import exchange.core2.core.orderbook.OrderBookEventsHelper;
import exchange.core2.core.common.MatcherTradeEvent;
import exchange.core2.core.common.MatcherEventType;
import exchange.core2.collections.objpool.ObjectsPool;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import java.util.List;
import java.util.Set;

/**
 * The two engines of {@code bench/run book-core-peers}, each driven by the same
 * {@link BookPeersStream}, one operation per call.
 */
final class BookPeers {

  private BookPeers() {}

  /**
   * exchange-core's {@code OrderBookDirectImpl}, as its own pipeline drives it: one reused
   * {@code OrderCommand} filled with the operation and handed to {@code IOrderBook.processCommand}.
   * Asks are GTC sell orders of effectively unlimited size (never filled away, like Keld's asks of
   * unlimited capacity); a crossing bid is an IOC buy of size 1, a resting bid a GTC buy of size 1.
   */
  static final class ExchangeCore {
    private static final long UNLIMITED = 1_000_000_000_000L;
    /** Buyers are one user, sellers others: exchange-core never matches a user's own orders. */
    private static final long BUYER = 1_000_000;

    final BookPeersStream stream;
    final IOrderBook book;
    private final OrderCommand cmd = new OrderCommand();
    private int next;
    long trades;

    ExchangeCore(BookPeersStream stream) {
      this.stream = stream;
      CoreSymbolSpecification spec = CoreSymbolSpecification.builder().symbolId(1).type(SymbolType.CURRENCY_EXCHANGE_PAIR)
          .baseCurrency(1).quoteCurrency(2).baseScaleK(1).quoteScaleK(1).takerFee(0).makerFee(0).build();
      book = new OrderBookDirectImpl(spec, ObjectsPool.createDefaultTestPool(), OrderBookEventsHelper.NON_POOLED_EVENTS_HELPER,
          LoggingConfiguration.DEFAULT);
    }

    /** Runs the stream's next operation; the result code, for JMH to consume. */
    CommandResultCode step(boolean countTrades) {
      BookPeersStream s = stream;
      int i = next;
      next = i + 1 == s.length ? 0 : i + 1;
      OrderCommand c = cmd;
      c.matcherEvent = null;
      c.marketData = null;
      c.symbol = 1;
      // What exchange-core's risk stage sets before its matching engine sees an order.
      c.resultCode = CommandResultCode.VALID_FOR_MATCHING_ENGINE;
      switch (s.kind[i]) {
        case BookPeersStream.POST_ASK -> place(c, askId(s.target[i]), s.provider[i] + 1, s.price[i], UNLIMITED, OrderAction.ASK, OrderType.GTC);
        case BookPeersStream.MOVE_ASK -> {
          c.command = OrderCommandType.MOVE_ORDER;
          c.orderId = askId(s.target[i]);
          c.uid = s.provider[i] + 1;
          c.price = s.price[i];
        }
        case BookPeersStream.CANCEL_ASK -> {
          c.command = OrderCommandType.CANCEL_ORDER;
          c.orderId = askId(s.target[i]);
          c.uid = s.provider[i] + 1;
        }
        case BookPeersStream.CROSSING_BID -> place(c, bidId(s.target[i]), BUYER, s.price[i], 1, OrderAction.BID, OrderType.IOC);
        case BookPeersStream.RESTING_BID -> place(c, bidId(s.target[i]), BUYER, s.price[i], 1, OrderAction.BID, OrderType.GTC);
        case BookPeersStream.CANCEL_BID -> {
          c.command = OrderCommandType.CANCEL_ORDER;
          c.orderId = bidId(s.target[i]);
          c.uid = BUYER;
        }
        default -> throw new IllegalStateException("operation " + s.kind[i]);
      }
      CommandResultCode result = IOrderBook.processCommand(book, c);
      if (countTrades) {
        for (MatcherTradeEvent e = c.matcherEvent; e != null; e = e.nextEvent) {
          if (e.eventType == MatcherEventType.TRADE) trades++;
        }
      }
      return result;
    }

    private static void place(OrderCommand c, long orderId, long uid, long price, long size, OrderAction action, OrderType type) {
      c.command = OrderCommandType.PLACE_ORDER;
      c.orderId = orderId;
      c.uid = uid;
      c.price = price;
      c.reserveBidPrice = price;
      c.size = size;
      c.action = action;
      c.orderType = type;
    }

    private long askId(int n) {
      return n + 1L;
    }

    private long bidId(int n) {
      return stream.askNumbers + n + 1L;
    }
  }

  /**
   * Keld's {@link OrderBookCore} on the same stream: asks of one model with unlimited capacity
   * (the most throughput and concurrency the book accepts, an open window), bids of 1,000 tokens
   * due in ten years, so feasibility never stands in the way and both engines do the same matching.
   * A Keld fill reserves capacity rather than consuming the ask, so the job's work is done at once:
   * every fill is released by a second book operation in the same step (more work than
   * exchange-core's trade, counted as one operation of the stream).
   *
   * <p>The stream's operations are built once, before timing, as the stream's arrays are: the book's
   * thread does not build them in Keld either. The {@code OrderBook} entity receives them ready in
   * its {@code Execute} command, built by its callers ({@code AskService}, {@code JobBookSteps}) on
   * their own threads, as exchange-core's matching thread takes commands its API filled in (here the
   * step fills exchange-core's one command itself, which counts a little against it). Only the
   * releases are built here, per fill, since a fill's id is known once it is made.
   */
  static final class Keld {
    static final String USE_CASE = "summarize";
    private static final String MODEL = "llama-3-70b";
    private static final long THROUGHPUT = 1_000_000_000L;
    private static final int CONCURRENCY = 1_000_000;
    private static final long TEN_YEARS = 3_650L * 86_400_000L;

    final BookPeersStream stream;
    final OrderBookCore book = new OrderBookCore(USE_CASE, MatchingRules.DEFAULT);
    /** The stream as Keld's operations, one per entry of the stream. */
    private final BookOp[] ops;
    private int next;
    private long now = 1_800_000_000_000L;
    long fills;

    Keld(BookPeersStream stream) {
      this.stream = stream;
      String[] askIds = new String[stream.askNumbers];
      for (int i = 0; i < askIds.length; i++) askIds[i] = "ask_" + i;
      String[] bidIds = new String[stream.bidNumbers];
      for (int i = 0; i < bidIds.length; i++) bidIds[i] = "job_" + i;
      String[] providerIds = new String[BookPeersStream.PROVIDERS];
      for (int i = 0; i < providerIds.length; i++) providerIds[i] = "prv_" + i;
      // Every bid is due long after any run ends, however many times the cycle is replayed.
      long deadline = now + TEN_YEARS;
      BookPeersStream s = stream;
      ops = new BookOp[s.length];
      for (int i = 0; i < s.length; i++) {
        ops[i] = switch (s.kind[i]) {
          case BookPeersStream.POST_ASK -> new BookOp.PostAsk(new Ask(askIds[s.target[i]], providerIds[s.provider[i]], MODEL, USE_CASE,
              s.price[i], 80, THROUGHPUT, CONCURRENCY, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "eu", Set.of()));
          case BookPeersStream.MOVE_ASK -> new BookOp.AmendAsk(askIds[s.target[i]], providerIds[s.provider[i]], s.price[i], null, null,
              null, null);
          case BookPeersStream.CANCEL_ASK -> new BookOp.WithdrawAsk(askIds[s.target[i]], providerIds[s.provider[i]]);
          case BookPeersStream.CROSSING_BID, BookPeersStream.RESTING_BID -> new BookOp.PlaceBid(new Bid(bidIds[s.target[i]], USE_CASE,
              Set.of(), 0, s.price[i], 1_000, deadline, deadline - 60_000, Set.of(), Set.of(), Set.of(), Set.of()));
          case BookPeersStream.CANCEL_BID -> new BookOp.CancelBid(bidIds[s.target[i]]);
          default -> throw new IllegalStateException("operation " + s.kind[i]);
        };
      }
    }

    /** Runs the stream's next operation, then releases its fills. */
    BookResult step() {
      int i = next;
      next = i + 1 == ops.length ? 0 : i + 1;
      long t = ++now;
      BookOp op = ops[i];
      BookResult result = book.execute(op, t);
      if (result instanceof BookResult.Accepted a) {
        List<BookEvent> events = a.events();
        for (int e = 0, n = events.size(); e < n; e++) {
          if (events.get(e) instanceof BookEvent.Filled f) {
            fills++;
            if (!(book.execute(new BookOp.ReleaseFill(f.fill().fillId(), 1_000, false), t) instanceof BookResult.Accepted)) {
              throw new IllegalStateException("fill " + f.fill().fillId() + " was not released");
            }
          }
        }
      }
      return result;
    }
  }
}
