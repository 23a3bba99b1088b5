package io.keld.flow;

/** A job's counts so far in Flow. */
public record Progress(long itemsAnswered, long itemsFailed, long inputTokens, long outputTokens, long failedAttempts,
    int itemsOpen) {}
