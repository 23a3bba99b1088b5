-- One script for H2 and PostgreSQL alike (db/migration/common).
-- Keld Trade: provider endpoints, the models they serve, and the provider's own record of its asks.
-- The asks themselves live in the order books (event-sourced); trade_asks is the provider's index.

-- A provider credential is stored only as AES-256-GCM ciphertext under the node's master key
-- ("v1." + base64url(nonce || ciphertext || tag), the endpoint id as associated data).
CREATE TABLE trade_endpoints (
  id                 VARCHAR(64)   PRIMARY KEY,
  org_id             VARCHAR(64)   NOT NULL,
  name               VARCHAR(200)  NOT NULL,
  base_url           VARCHAR(2000) NOT NULL,
  credential_cipher  VARCHAR(4000),
  credential_hint    VARCHAR(8),
  created_at         TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT trade_endpoints_name_unique UNIQUE (org_id, name)
);

-- The use cases and regions a provider serves a model for, as comma-separated lists.
CREATE TABLE trade_models (
  org_id      VARCHAR(64)  NOT NULL,
  model       VARCHAR(200) NOT NULL,
  use_cases   VARCHAR(2000) NOT NULL,
  regions     VARCHAR(2000) NOT NULL,
  updated_at  TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (org_id, model)
);

CREATE TABLE trade_asks (
  id                    VARCHAR(64)  PRIMARY KEY,
  org_id                VARCHAR(64)  NOT NULL,
  use_case              VARCHAR(64)  NOT NULL,
  model                 VARCHAR(200) NOT NULL,
  price_per_mtok        BIGINT       NOT NULL,
  quality               INT          NOT NULL,
  throughput_tps        BIGINT       NOT NULL,
  max_concurrency       INT          NOT NULL,
  region                VARCHAR(64)  NOT NULL,
  cancel_on_disconnect  BOOLEAN      NOT NULL,
  state                 VARCHAR(16)  NOT NULL CHECK (state IN ('open', 'withdrawn')),
  created_at            TIMESTAMP WITH TIME ZONE NOT NULL,
  updated_at            TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX trade_asks_org ON trade_asks (org_id, state);

-- One row: a value encrypted under the master key, so a node started with another key refuses to
-- start instead of failing later on every credential.
CREATE TABLE trade_master_key_check (
  id           INT PRIMARY KEY,
  check_value  VARCHAR(200) NOT NULL
);

-- The provider's fills, written from the books' events (idempotent by fill id), for its statement.
-- No job, bid or enterprise identity is kept here.
CREATE TABLE trade_fills (
  fill_id         VARCHAR(64)  PRIMARY KEY,
  org_id          VARCHAR(64)  NOT NULL,
  ask_id          VARCHAR(64)  NOT NULL,
  use_case        VARCHAR(64)  NOT NULL,
  model           VARCHAR(200) NOT NULL,
  price_per_mtok  BIGINT       NOT NULL,
  tokens_filled   BIGINT       NOT NULL,
  tokens_served   BIGINT       NOT NULL,
  released        BOOLEAN      NOT NULL,
  failed          BOOLEAN      NOT NULL,
  filled_at       TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX trade_fills_org_day ON trade_fills (org_id, filled_at);
