package io.keld.marketplace.clearing;

import io.keld.marketplace.book.BookEvent;

/** One event of a book's log with its sequence number in the book's journal (1, 2, 3, ... with no gaps). */
public record BookLogEntry(long seq, BookEvent event) {}
