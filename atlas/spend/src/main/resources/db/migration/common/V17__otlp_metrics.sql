-- One script for H2 and PostgreSQL alike (db/migration/common).
-- OTLP metrics ingest (POST /v1/metrics): gen_ai.client.token.usage and gen_ai.client.operation.duration.

-- Which OpenTelemetry resource (the SDK instance: service, host, instance id ...) a GenAI span came
-- from, as a hash of its attributes. Metrics of the same resource are counted net of its spans.
ALTER TABLE usage_records ADD COLUMN resource_id VARCHAR(32);
CREATE INDEX usage_records_resource ON usage_records (resource_id, period_end);

-- One row per metric stream (a metric, its resource, scope, attributes and, when cumulative, its
-- start time): the newest point read, so a repeated export counts once and a cumulative point
-- becomes the increase since the one before.
CREATE TABLE otlp_metric_streams (
  org_id               VARCHAR(64)   NOT NULL,
  stream_id            VARCHAR(64)   NOT NULL,
  last_time_nanos      BIGINT        NOT NULL,
  last_count           BIGINT        NOT NULL,
  last_sum             DOUBLE PRECISION NOT NULL,
  updated_at           TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (org_id, stream_id)
);
CREATE INDEX otlp_metric_streams_updated ON otlp_metric_streams (updated_at);

-- GenAI calls and tokens the metrics reported, per call group (resource, provider, models, operation,
-- error or not, and where the usage is placed) and collection interval, until they are settled: a
-- while after the interval ends (once the spans of the same calls have arrived), the part no span
-- describes becomes a ledger record and the row goes.
CREATE TABLE otlp_metric_intervals (
  id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id               VARCHAR(64)   NOT NULL,
  group_id             VARCHAR(64)   NOT NULL,
  interval_start       TIMESTAMP WITH TIME ZONE NOT NULL,
  interval_end         TIMESTAMP WITH TIME ZONE NOT NULL,
  interval_end_nanos   BIGINT        NOT NULL,
  resource_id          VARCHAR(32)   NOT NULL,
  service_name         VARCHAR(200),
  provider             VARCHAR(64)   NOT NULL,
  model_requested      VARCHAR(200),
  model_served         VARCHAR(200),
  operation            VARCHAR(64),
  status               VARCHAR(16)   NOT NULL,
  team_id              VARCHAR(64),
  project_id           VARCHAR(64),
  job_category         VARCHAR(64),
  job_category_source  VARCHAR(16),
  spend_class          VARCHAR(8),
  tags                 VARCHAR(4000) NOT NULL,
  -- Calls from gen_ai.client.operation.duration (NULL when the group sent none), and its seconds.
  calls                BIGINT,
  duration_ms          BIGINT        NOT NULL,
  -- Measurements and token sums of gen_ai.client.token.usage by gen_ai.token.type.
  input_measurements   BIGINT        NOT NULL,
  input_tokens         BIGINT        NOT NULL,
  output_measurements  BIGINT        NOT NULL,
  output_tokens        BIGINT        NOT NULL,
  CONSTRAINT otlp_metric_intervals_unique UNIQUE (org_id, group_id, interval_end_nanos)
);
CREATE INDEX otlp_metric_intervals_end ON otlp_metric_intervals (interval_end);
