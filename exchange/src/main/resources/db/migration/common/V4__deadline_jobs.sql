-- One script for H2 and PostgreSQL alike (db/migration/common).
-- Deadline jobs live in the event journal (one DeadlineJob entity per job); these tables are what
-- they write for others: the project's backup policy they read at admission, and the usage records
-- a settled job emits for the spend ledger.

-- A project's backup: a direct provider at its list price that takes a job no ask can finish in time.
CREATE TABLE project_backups (
  project_id      VARCHAR(64)  PRIMARY KEY,
  provider_id     VARCHAR(64)  NOT NULL,
  model           VARCHAR(200) NOT NULL,
  price_per_mtok  BIGINT       NOT NULL CHECK (price_per_mtok >= 0),
  throughput_tps  BIGINT       NOT NULL CHECK (throughput_tps > 0),
  updated_at      TIMESTAMP WITH TIME ZONE NOT NULL
);

-- One row per provider leg of a settled job: exact tokens and cost at the price paid on that leg.
-- Written once (the key makes a repeated settlement a no-op); the spend ledger consumes it.
CREATE TABLE job_usage (
  job_id          VARCHAR(64)  NOT NULL,
  leg_no          INT          NOT NULL,
  org_id          VARCHAR(64)  NOT NULL,
  team_id         VARCHAR(64)  NOT NULL,
  project_id      VARCHAR(64)  NOT NULL,
  use_case        VARCHAR(64)  NOT NULL,
  provider_id     VARCHAR(64)  NOT NULL,
  model           VARCHAR(200) NOT NULL,
  leg_kind        VARCHAR(16)  NOT NULL,
  job_category    VARCHAR(64),
  spend_class     VARCHAR(16),
  tags            VARCHAR(4000) NOT NULL,
  job_state       VARCHAR(32)  NOT NULL,
  requests        BIGINT       NOT NULL,
  failed_requests BIGINT       NOT NULL,
  input_tokens    BIGINT       NOT NULL,
  output_tokens   BIGINT       NOT NULL,
  price_per_mtok  BIGINT       NOT NULL,
  cost_micro_usd  BIGINT       NOT NULL,
  started_at      TIMESTAMP WITH TIME ZONE NOT NULL,
  ended_at        TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (job_id, leg_no)
);
CREATE INDEX job_usage_org_ended ON job_usage (org_id, ended_at);
