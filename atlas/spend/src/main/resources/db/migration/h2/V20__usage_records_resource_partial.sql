-- Version 20 on H2: nothing to do. On PostgreSQL it makes usage_records_resource a partial index
-- (postgresql/V20); H2 has none. This file keeps the number taken on both, so a later common/V20 cannot collide.
SELECT 1;
