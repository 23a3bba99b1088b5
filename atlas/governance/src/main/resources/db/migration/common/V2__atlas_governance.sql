-- One script for H2 and PostgreSQL alike (db/migration/common): standard SQL both accept.
-- Atlas governance: tenancy, API keys, audit log. Budgets are not here: they are event-sourced
-- entities (TeamBudgets) in the Pekko journal.

CREATE TABLE atlas_organizations (
  id          VARCHAR(64)  PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  kind        VARCHAR(16)  NOT NULL CHECK (kind IN ('enterprise', 'provider', 'operator')),
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE atlas_teams (
  id          VARCHAR(64)  PRIMARY KEY,
  org_id      VARCHAR(64)  NOT NULL REFERENCES atlas_organizations (id),
  name        VARCHAR(200) NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT atlas_teams_name_unique UNIQUE (org_id, name)
);

CREATE TABLE atlas_projects (
  id          VARCHAR(64)  PRIMARY KEY,
  org_id      VARCHAR(64)  NOT NULL REFERENCES atlas_organizations (id),
  team_id     VARCHAR(64)  NOT NULL REFERENCES atlas_teams (id),
  name        VARCHAR(200) NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT atlas_projects_name_unique UNIQUE (team_id, name)
);

-- A key is stored as the SHA-256 of the whole key: the key itself exists only in the response that
-- created it. `hint` is its last four characters, so a person can tell keys apart.
CREATE TABLE atlas_api_keys (
  id              VARCHAR(64)  PRIMARY KEY,
  org_id          VARCHAR(64)  NOT NULL REFERENCES atlas_organizations (id),
  team_id         VARCHAR(64)  REFERENCES atlas_teams (id),
  project_id      VARCHAR(64)  REFERENCES atlas_projects (id),
  role            VARCHAR(16)  NOT NULL CHECK (role IN ('operator', 'admin', 'member', 'read-only', 'provider')),
  name            VARCHAR(200) NOT NULL,
  secret_sha256   CHAR(64)     NOT NULL,
  hint            VARCHAR(8)   NOT NULL,
  created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
  created_by      VARCHAR(64),
  revoked_at      TIMESTAMP WITH TIME ZONE
);
CREATE INDEX atlas_api_keys_org ON atlas_api_keys (org_id);

-- Who did what: one row per state-changing call, whatever its outcome. Never request bodies.
CREATE TABLE atlas_audit_log (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          TIMESTAMP WITH TIME ZONE NOT NULL,
  org_id      VARCHAR(64),
  key_id      VARCHAR(64),
  action      VARCHAR(64)  NOT NULL,
  target      VARCHAR(200),
  outcome     VARCHAR(16)  NOT NULL,
  status      INTEGER      NOT NULL,
  detail      VARCHAR(500)
);
CREATE INDEX atlas_audit_log_org ON atlas_audit_log (org_id, id);

-- One row once the operator bootstrap key was issued, so exactly one node of a cluster issues it.
CREATE TABLE atlas_bootstrap (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  key_id      VARCHAR(64) NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
