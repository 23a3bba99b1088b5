package io.keld.marketplace.entity;

import io.keld.marketplace.book.BookEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;

/** Counts what the books do: events by kind, fills and the tokens they reserved, per use case. */
public final class BookMetrics implements BookListener {

  private final MeterRegistry registry;

  public BookMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    for (BookEvent e : events) {
      Counter.builder("keld.book.events").description("Order book events persisted")
          .tag("use_case", useCase).tag("event", e.getClass().getSimpleName()).register(registry).increment();
      if (e instanceof BookEvent.Filled f) {
        Counter.builder("keld.book.filled.tokens").description("Tokens reserved by fills")
            .tag("use_case", useCase).register(registry).increment(f.fill().tokens());
      }
    }
  }
}
