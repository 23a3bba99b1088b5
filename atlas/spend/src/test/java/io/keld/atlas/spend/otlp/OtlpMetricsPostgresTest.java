package io.keld.atlas.spend.otlp;

import io.keld.testkit.TestDatabase;

/** {@link OtlpMetricsTest} on PostgreSQL (the ledger's COPY path, row locks and upserts as production runs them). */
class OtlpMetricsPostgresTest extends OtlpMetricsTest {

  @Override
  TestDatabase database() {
    return TestDatabase.postgres();
  }
}
