"""The query log: pg_stat_statements deltas and server log files, masked."""
