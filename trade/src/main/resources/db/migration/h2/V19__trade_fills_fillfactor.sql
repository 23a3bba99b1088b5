-- Version 19 on H2: nothing to do. On PostgreSQL it sets trade_fills' fillfactor (postgresql/V19);
-- H2 has none. This file keeps the number taken on both, so a later common/V19 cannot collide.
SELECT 1;
