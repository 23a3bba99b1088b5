-- One script for H2 and PostgreSQL alike (db/migration/common).
-- The spend map: the usage ledger, its hourly rollup, the price book, and the mapping rules that
-- place telemetry under teams and projects.

-- One usage record per source event: a settled job leg, a GenAI span, a bucket of a provider's usage
-- export, a LiteLLM spend log row, a line of an Atlas CSV/JSONL file. The columns are an allow-list:
-- there is no column for prompt or completion content, so none can be stored.
-- Token counts follow OpenAI's convention whatever the source: input_tokens counts every input token,
-- cached_input_tokens and cache_write_tokens are the parts of it read from or written to a prompt cache.
CREATE TABLE usage_records (
  id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id               VARCHAR(64)   NOT NULL,
  source               VARCHAR(32)   NOT NULL,
  source_event_id      VARCHAR(200)  NOT NULL,
  team_id              VARCHAR(64),
  project_id           VARCHAR(64),
  period_start         TIMESTAMP WITH TIME ZONE NOT NULL,
  period_end           TIMESTAMP WITH TIME ZONE NOT NULL,
  granularity          VARCHAR(16)   NOT NULL,
  request_count        BIGINT        NOT NULL,
  provider             VARCHAR(64)   NOT NULL,
  model_requested      VARCHAR(200),
  model_served         VARCHAR(200),
  operation            VARCHAR(64),
  service_tier         VARCHAR(32),
  use_case             VARCHAR(64),
  input_tokens         BIGINT        NOT NULL,
  cached_input_tokens  BIGINT        NOT NULL,
  cache_write_tokens   BIGINT        NOT NULL,
  output_tokens        BIGINT        NOT NULL,
  reasoning_tokens     BIGINT        NOT NULL,
  cost_micro_usd       BIGINT        NOT NULL,
  list_cost_micro_usd  BIGINT,
  currency             VARCHAR(3)    NOT NULL,
  cost_source          VARCHAR(16)   NOT NULL CHECK (cost_source IN ('provider', 'gateway', 'computed', 'unpriced')),
  price_ref            VARCHAR(300),
  job_category         VARCHAR(64),
  job_category_source  VARCHAR(16),
  spend_class          VARCHAR(8),
  latency_class        VARCHAR(16),
  latency_confidence   DOUBLE PRECISION,
  duration_ms          BIGINT,
  ttft_ms              BIGINT,
  streaming            BOOLEAN,
  has_end_user         BOOLEAN,
  has_conversation     BOOLEAN,
  under_server_span    BOOLEAN,
  status               VARCHAR(16)   NOT NULL,
  trace_id             VARCHAR(32),
  span_id              VARCHAR(16),
  service_name         VARCHAR(200),
  tags                 VARCHAR(4000) NOT NULL,
  ingested_at          TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT usage_records_event_unique UNIQUE (org_id, source, source_event_id)
);
CREATE INDEX usage_records_org_period ON usage_records (org_id, period_start);

-- Spend and tokens per hour and per combination of the six dimensions, kept in step with the ledger
-- (the same transaction adds a record and its share here), so reports read thousands of rows, not
-- millions. Unknown dimension values are '' so the key has no NULLs. (bucket_hour, not hour: HOUR and
-- DAY are reserved words in H2.)
CREATE TABLE usage_rollup_hourly (
  org_id               VARCHAR(64)   NOT NULL,
  bucket_hour          TIMESTAMP WITH TIME ZONE NOT NULL,
  team_id              VARCHAR(64)   NOT NULL,
  project_id           VARCHAR(64)   NOT NULL,
  provider             VARCHAR(64)   NOT NULL,
  model                VARCHAR(200)  NOT NULL,
  job_category         VARCHAR(64)   NOT NULL,
  spend_class          VARCHAR(8)    NOT NULL,
  records              BIGINT        NOT NULL,
  request_count        BIGINT        NOT NULL,
  input_tokens         BIGINT        NOT NULL,
  cached_input_tokens  BIGINT        NOT NULL,
  cache_write_tokens   BIGINT        NOT NULL,
  output_tokens        BIGINT        NOT NULL,
  reasoning_tokens     BIGINT        NOT NULL,
  cost_micro_usd       BIGINT        NOT NULL,
  list_cost_micro_usd  BIGINT        NOT NULL,
  PRIMARY KEY (org_id, bucket_hour, team_id, project_id, provider, model, job_category, spend_class)
);

-- The same per UTC day: a report over whole days reads this (30 days of a busy organization are tens
-- of thousands of rows here, hundreds of thousands in the hourly table).
CREATE TABLE usage_rollup_daily (
  org_id               VARCHAR(64)   NOT NULL,
  bucket_day           TIMESTAMP WITH TIME ZONE NOT NULL,
  team_id              VARCHAR(64)   NOT NULL,
  project_id           VARCHAR(64)   NOT NULL,
  provider             VARCHAR(64)   NOT NULL,
  model                VARCHAR(200)  NOT NULL,
  job_category         VARCHAR(64)   NOT NULL,
  spend_class          VARCHAR(8)    NOT NULL,
  records              BIGINT        NOT NULL,
  request_count        BIGINT        NOT NULL,
  input_tokens         BIGINT        NOT NULL,
  cached_input_tokens  BIGINT        NOT NULL,
  cache_write_tokens   BIGINT        NOT NULL,
  output_tokens        BIGINT        NOT NULL,
  reasoning_tokens     BIGINT        NOT NULL,
  cost_micro_usd       BIGINT        NOT NULL,
  list_cost_micro_usd  BIGINT        NOT NULL,
  PRIMARY KEY (org_id, bucket_day, team_id, project_id, provider, model, job_category, spend_class)
);

-- Effective-dated prices (micro-USD per million tokens) per provider, model and token type. A new
-- price is a new row from its effective time on; records keep the price_ref they were priced at.
CREATE TABLE price_book (
  id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider             VARCHAR(64)   NOT NULL,
  model                VARCHAR(200)  NOT NULL,
  token_type           VARCHAR(16)   NOT NULL CHECK (token_type IN ('input', 'cached_input', 'cache_write', 'output')),
  micro_usd_per_mtok   BIGINT        NOT NULL CHECK (micro_usd_per_mtok >= 0),
  effective_from       TIMESTAMP WITH TIME ZONE NOT NULL,
  origin               VARCHAR(16)   NOT NULL,
  created_at           TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT price_book_unique UNIQUE (provider, model, token_type, effective_from)
);

-- An organization's ordered rules from telemetry attributes to team, project, job category and
-- capex/opex. Stored as one JSON document per organization: the list is edited as a whole.
CREATE TABLE mapping_rules (
  org_id               VARCHAR(64)   PRIMARY KEY,
  rules_json           VARCHAR(65535) NOT NULL,
  updated_at           TIMESTAMP WITH TIME ZONE NOT NULL
);
