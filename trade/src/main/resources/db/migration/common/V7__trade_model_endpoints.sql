-- One script for H2 and PostgreSQL alike (db/migration/common).
-- A provider with several endpoints says which one serves a model. NULL (a model registered without
-- an endpoint_id, and every model registered before this migration): the provider's first endpoint,
-- the oldest one. An endpoint a model names cannot be deleted until the model names another.
ALTER TABLE trade_models ADD COLUMN endpoint_id VARCHAR(64);
ALTER TABLE trade_models ADD CONSTRAINT trade_models_endpoint FOREIGN KEY (endpoint_id) REFERENCES trade_endpoints (id);
CREATE INDEX trade_models_endpoint ON trade_models (endpoint_id);
