-- One script for H2 and PostgreSQL alike (db/migration/common).
-- The job index behind GET /ixp/v1/jobs: one row per job with its latest view as IXP shows it.
-- Deadline jobs write it asynchronously after every change (the journal stays the truth); jobs of
-- the real-time path write it once, when they end. Rows carry the entity's sequence number so a
-- late write never replaces a newer one.
CREATE TABLE ixp_jobs (
  job_id        VARCHAR(64)  PRIMARY KEY,
  org_id        VARCHAR(64)  NOT NULL,
  team_id       VARCHAR(64)  NOT NULL,
  project_id    VARCHAR(64)  NOT NULL,
  use_case      VARCHAR(64)  NOT NULL,
  state         VARCHAR(32)  NOT NULL,
  realtime      BOOLEAN      NOT NULL,
  submitted_at  TIMESTAMP WITH TIME ZONE NOT NULL,
  version       BIGINT       NOT NULL,
  resource_json VARCHAR(1000000) NOT NULL
);
CREATE INDEX ixp_jobs_org_submitted ON ixp_jobs (org_id, submitted_at, job_id);

-- What the OpenAI-compatible edge uses for a project's requests that name no X-Keld-* header.
CREATE TABLE project_edge_defaults (
  project_id     VARCHAR(64)  PRIMARY KEY,
  use_case       VARCHAR(64),
  deadline       VARCHAR(64),
  ceiling_per_mtok BIGINT CHECK (ceiling_per_mtok > 0),
  updated_at     TIMESTAMP WITH TIME ZONE NOT NULL
);
