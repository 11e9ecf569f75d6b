"""warehouse: per-run journals that never block a bot, and a DuckDB warehouse that never loses a fill.

- ``journal.Journal`` (the ``core.records.Recorder``): one JSON Lines file per run; fills are
  group-committed (flushed and fsynced) before ``await fill`` returns; nothing else waits on disk.
- ``loader.load``: one loader at a time (file lock); parses new journal lines with DuckDB, dedups
  on the natural keys, quarantines bad records, writes a private master and publishes it as the
  read-only ``data/warehouse.duckdb`` by atomic rename, so readers never block the loader.
- ``schema`` (versioned migrations), ``views`` (live views over unloaded journal records),
  ``query`` (pandas helpers and the docs/queries.sql cookbook), ``status`` (for the CLI).
"""
