-- usage_records_resource serves one query: the GenAI spans of one OpenTelemetry resource
-- (MetricIntervals.netOfSpans, `resource_id = ?`). Only OTLP records carry a resource, but a B-tree
-- indexes NULLs too, so every other record (each real-time request's usage, Keld's jobs, imports)
-- wrote an entry nobody reads. Only records with a resource are indexed now; `resource_id = ?`
-- implies `resource_id IS NOT NULL`, so the query still uses the index, generic plans included.
-- DROP INDEX takes usage_records' exclusive lock first, and the transaction holds it through the build:
-- reads and writes of the ledger wait until it ends (OPERATIONS.md). Building the new index first would
-- let reads go on, but a transaction that read the ledger and then writes to it could deadlock with it.
-- PostgreSQL only: H2 has no partial indexes (h2/V20 keeps the number).
DROP INDEX usage_records_resource;
CREATE INDEX usage_records_resource ON usage_records (resource_id, period_end) WHERE resource_id IS NOT NULL;
