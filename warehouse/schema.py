"""The warehouse schema (docs/architecture.md, "The warehouse contract") as versioned migrations.

Each migration runs once, in order, in the transaction that records it in ``schema_version``; a
migration that fails leaves the warehouse at the version before it. Migrations only add: tables
and columns are never dropped, and new columns of existing rows are backfilled, so every row a
warehouse held survives an upgrade.

Natural keys (the loader deduplicates on them; there are no index constraints, which would slow a
bulk load of millions of fills): runs (run_id), orders (venue, order_id, run_id), order_events (venue,
order_id, seq, run_id), fills (venue, order_id, trade_id, run_id) - two runs on a venue that reused
ids (a restarted venue or fake) keep their own rows -, cycles (run_id, cycle_no), positions (run_id,
venue, symbol, ts), risk_events (run_id, ts, seq), funding (run_id, venue, symbol, ts),
sentiment (source, metric, symbol, ts), insights (insight_id), reviews (review_id), quarantine
(journal, line_offset; minus the seq for a record quarantined by the merge: a key loaded before with
different content). All timestamps are UTC (``TIMESTAMP``); decimals are
``contract.DECIMAL``. ``seq`` and ``journal`` say which journal line a row came from; ``load_id``
which load wrote it (0: before loads were recorded per row) and ``key_hash`` is the hash of its
natural key that the loader's duplicate checks use (``keys.py``).

Files are written in DuckDB's 1.5 storage format (``STORAGE_VERSION``): its string compression
costs a third less time than the 0.10 default, and ``pyproject.toml`` pins DuckDB and its CLI to
1.5.x, which read it. An older master is upgraded in place the first time the loader attaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse.contract import DECIMAL
from warehouse.keys import backfill_statements
from warehouse.project import RUN_CLOCK, RUN_MODE
from warehouse.project import TABLES as TABLES_BY_NAME

D = DECIMAL
STORAGE_VERSION = "v1.5.0"


def attach_sql(path: str, alias: str) -> str:
    """ATTACH a warehouse file read-write, writing new data in ``STORAGE_VERSION``."""
    return f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS {alias} (STORAGE_VERSION '{STORAGE_VERSION}')"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


V1 = Migration(1, "the table contract, and the loader's bookkeeping", (
    """CREATE TABLE runs (run_id VARCHAR NOT NULL, bot VARCHAR, flow_run_id VARCHAR, venues VARCHAR[],
        symbol VARCHAR, params JSON, started TIMESTAMP, ended TIMESTAMP, status VARCHAR, reason VARCHAR,
        journal VARCHAR)""",
    f"""CREATE TABLE orders (venue VARCHAR NOT NULL, order_id VARCHAR NOT NULL, run_id VARCHAR, bot VARCHAR,
        client_id VARCHAR, symbol VARCHAR, side VARCHAR, type VARCHAR, post_only BOOLEAN, reduce_only BOOLEAN,
        price {D}, size {D}, filled {D}, avg_price {D}, status VARCHAR, reject_reason VARCHAR, ts TIMESTAMP,
        seq BIGINT, journal VARCHAR)""",
    f"""CREATE TABLE order_events (venue VARCHAR NOT NULL, order_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
        run_id VARCHAR, status VARCHAR, price {D}, size {D}, filled {D}, avg_price {D}, reject_reason VARCHAR,
        ts TIMESTAMP, journal VARCHAR)""",
    f"""CREATE TABLE fills (venue VARCHAR NOT NULL, order_id VARCHAR NOT NULL, trade_id VARCHAR NOT NULL,
        run_id VARCHAR, bot VARCHAR, client_id VARCHAR, symbol VARCHAR, side VARCHAR, price {D}, size {D},
        fee {D}, liquidity VARCHAR, ts TIMESTAMP, bid {D}, ask {D}, seq BIGINT, journal VARCHAR)""",
    f"""CREATE TABLE cycles (run_id VARCHAR NOT NULL, cycle_no BIGINT NOT NULL, bot VARCHAR, iteration BIGINT,
        kind VARCHAR, direction VARCHAR, primary_venue VARCHAR, hedge_venue VARCHAR, symbol VARCHAR, size {D},
        primary_price {D}, hedge_price {D}, edge_bps {D}, primary_fee {D}, hedge_fee {D}, fees {D},
        gross_pnl {D}, pnl {D}, net_delta_after {D}, hedge_latency_ms DOUBLE, status VARCHAR,
        started TIMESTAMP, ended TIMESTAMP, seq BIGINT, journal VARCHAR)""",
    f"""CREATE TABLE positions (run_id VARCHAR NOT NULL, venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL, size {D}, entry_price {D}, source VARCHAR, seq BIGINT, journal VARCHAR)""",
    """CREATE TABLE risk_events (run_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, seq BIGINT NOT NULL,
        check_name VARCHAR, reason VARCHAR, state_from VARCHAR, state_to VARCHAR, detail VARCHAR, data JSON,
        journal VARCHAR)""",
    f"""CREATE TABLE funding (run_id VARCHAR NOT NULL, venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL, rate {D}, position {D}, payment {D}, seq BIGINT, journal VARCHAR)""",
    """CREATE TABLE quarantine (journal VARCHAR NOT NULL, line_offset BIGINT NOT NULL, run_id VARCHAR,
        kind VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR, quarantined_at TIMESTAMP, load_id BIGINT)""",
    """CREATE TABLE journal_offsets (journal VARCHAR NOT NULL, byte_offset BIGINT NOT NULL,
        last_seq BIGINT NOT NULL, records BIGINT NOT NULL, torn BIGINT NOT NULL DEFAULT 0, updated TIMESTAMP)""",
    """CREATE TABLE loads (load_id BIGINT NOT NULL, started TIMESTAMP, finished TIMESTAMP, journals BIGINT,
        records BIGINT, inserted JSON, quarantined BIGINT)""",
))

V2 = Migration(2, "tables of the scheduled flows; notional per fill and volume per cycle (DOUBLE), backfilled", (
    """CREATE TABLE sentiment (source VARCHAR NOT NULL, metric VARCHAR NOT NULL, symbol VARCHAR,
        ts TIMESTAMP NOT NULL, value DOUBLE, age_s DOUBLE, stale BOOLEAN, detail VARCHAR, run_id VARCHAR,
        seq BIGINT, journal VARCHAR)""",
    """CREATE TABLE insights (insight_id VARCHAR NOT NULL, ts TIMESTAMP, scope VARCHAR, topic VARCHAR, data JSON,
        confidence DOUBLE, source VARCHAR, run_id VARCHAR, seq BIGINT, journal VARCHAR)""",
    """CREATE TABLE reviews (review_id VARCHAR NOT NULL, ts TIMESTAMP, reviewer VARCHAR, model VARCHAR,
        period_start TIMESTAMP, period_end TIMESTAMP, summary VARCHAR, body JSON, valid BOOLEAN, run_id VARCHAR,
        seq BIGINT, journal VARCHAR)""",
    "ALTER TABLE fills ADD COLUMN notional DOUBLE",
    "UPDATE fills SET notional = CAST(price AS DOUBLE) * CAST(size AS DOUBLE)",
    "ALTER TABLE cycles ADD COLUMN volume DOUBLE",
    "UPDATE cycles SET volume = CAST(size AS DOUBLE) * "
    "CAST(coalesce(primary_price, 0) + coalesce(hedge_price, 0) AS DOUBLE)",
))

# The keyed tables that existed when V3 ran (tables added later carry key_hash from their creation).
V3_KEYED = ("orders", "order_events", "fills", "cycles", "positions", "risk_events", "funding", "sentiment",
            "insights", "reviews")
V3 = Migration(3, "key_hash and load_id on every keyed table (the loader's duplicate checks), loader_meta",
               backfill_statements(V3_KEYED))

V4 = Migration(4, "runs: mode (backtest | paper | live) and clock (virtual | real), backfilled from params", (
    "ALTER TABLE runs ADD COLUMN mode VARCHAR",
    "ALTER TABLE runs ADD COLUMN clock VARCHAR",
    f"UPDATE runs SET mode = {RUN_MODE.format(mode='NULL', params='params')}, "
    f"clock = {RUN_CLOCK.format(clock='NULL', params='params')}",
))

V5 = Migration(5, "what really happened per cycle (order ids per leg, maker share, why the hedge went taker), "
                  "the mark of a recorded position", (
    "ALTER TABLE cycles ADD COLUMN primary_orders VARCHAR[]",
    "ALTER TABLE cycles ADD COLUMN hedge_orders VARCHAR[]",
    "ALTER TABLE cycles ADD COLUMN primary_maker_share DOUBLE",
    "ALTER TABLE cycles ADD COLUMN hedge_maker_share DOUBLE",
    "ALTER TABLE cycles ADD COLUMN hedge_taker_reason VARCHAR",
    f"ALTER TABLE positions ADD COLUMN mark {D}",
))

V6 = Migration(6, "what a cross-bot review and a shared-insights version need: prompt hash, inputs digest, raw and "
                  "parsed answers, verdict, tokens, latency, error; insight versions, expiry and review provenance", (
    "ALTER TABLE reviews ADD COLUMN prompt_version VARCHAR",
    "ALTER TABLE reviews ADD COLUMN prompt_hash VARCHAR",
    "ALTER TABLE reviews ADD COLUMN inputs_digest VARCHAR",
    "ALTER TABLE reviews ADD COLUMN answer VARCHAR",
    "ALTER TABLE reviews ADD COLUMN parsed JSON",
    "ALTER TABLE reviews ADD COLUMN verdict VARCHAR",
    "ALTER TABLE reviews ADD COLUMN prompt_tokens BIGINT",
    "ALTER TABLE reviews ADD COLUMN completion_tokens BIGINT",
    "ALTER TABLE reviews ADD COLUMN latency_ms DOUBLE",
    "ALTER TABLE reviews ADD COLUMN attempts BIGINT",
    "ALTER TABLE reviews ADD COLUMN error VARCHAR",
    "ALTER TABLE insights ADD COLUMN version VARCHAR",
    "ALTER TABLE insights ADD COLUMN expires TIMESTAMP",
    "ALTER TABLE insights ADD COLUMN review_id VARCHAR",
))

V7 = Migration(7, "book_samples (the market a bot saw, for markouts) and strategy_events (a strategy's own events)", (
    f"""CREATE TABLE book_samples (run_id VARCHAR NOT NULL, venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL, bid {D}, ask {D}, seq BIGINT, journal VARCHAR, key_hash UBIGINT, load_id BIGINT)""",
    """CREATE TABLE strategy_events (run_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, seq BIGINT NOT NULL,
        bot VARCHAR, event VARCHAR, detail VARCHAR, data JSON, journal VARCHAR, key_hash UBIGINT, load_id BIGINT)""",
))

KEYS = "key_hash UBIGINT, load_id BIGINT"
V8 = Migration(8, "the LLM agents: decisions (every adviser call), agent_trades (every round trip), "
                  "mode_changes", (
    f"""CREATE TABLE decisions (decision_id VARCHAR NOT NULL, run_id VARCHAR, bot VARCHAR, ts TIMESTAMP,
        venue VARCHAR, mode VARCHAR, inputs_digest VARCHAR, prompt_hash VARCHAR, allowed JSON, llm_called BOOLEAN,
        verdict VARCHAR, reason VARCHAR, action VARCHAR, symbol VARCHAR, size_usd DOUBLE, confidence DOUBLE,
        calibrated_confidence DOUBLE, answer VARCHAR, parsed JSON, latency_ms DOUBLE, prompt_tokens BIGINT,
        completion_tokens BIGINT, repaired BOOLEAN, inputs JSON, seq BIGINT, journal VARCHAR, {KEYS})""",
    f"""CREATE TABLE agent_trades (run_id VARCHAR NOT NULL, trade_no BIGINT NOT NULL, bot VARCHAR, venue VARCHAR,
        symbol VARCHAR, direction VARCHAR, mode VARCHAR, decision_id VARCHAR, confidence DOUBLE,
        calibrated_confidence DOUBLE, opened TIMESTAMP, closed_at TIMESTAMP, hold_s DOUBLE, size {D},
        entry_price {D}, exit_price {D}, notional {D}, entry_maker BOOLEAN, exit_rule VARCHAR, gross_pnl {D},
        fees {D}, spread_cost {D}, funding_paid {D}, pnl {D}, drag_pct DOUBLE, win BOOLEAN, seq BIGINT,
        journal VARCHAR, {KEYS})""",
    f"""CREATE TABLE mode_changes (run_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, seq BIGINT NOT NULL,
        mode_from VARCHAR, mode_to VARCHAR, reason VARCHAR, banked_usd {D}, burn_spent_usd {D}, journal VARCHAR,
        {KEYS})""",
))

V9 = Migration(9, "orders, order_events and fills keyed by run too (a restarted venue reuses ids): key_hash again",
               tuple(f"UPDATE {t} SET key_hash = {TABLES_BY_NAME[t].key_hash(t)}"
                     for t in ("orders", "order_events", "fills")))

MIGRATIONS: tuple[Migration, ...] = (V1, V2, V3, V4, V5, V6, V7, V8, V9)
LATEST = MIGRATIONS[-1].version

TABLES = ("runs", "orders", "order_events", "fills", "cycles", "positions", "risk_events", "funding",
          "sentiment", "insights", "reviews", "quarantine", "book_samples", "strategy_events", "decisions",
          "agent_trades", "mode_changes")


def version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'schema_version' AND table_catalog = current_database()").fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST) -> list[int]:
    """Bring the warehouse to ``target``; returns the versions applied."""
    if not 0 <= target <= LATEST:
        raise ValueError(f"target: schema version {target} does not exist; allowed: 0..{LATEST}")
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, description VARCHAR, "
                "applied_at TIMESTAMP)")
    current = version(con)
    if current > LATEST:
        raise RuntimeError(f"the warehouse is at schema version {current}, newer than this code ({LATEST})")
    applied = []
    for m in MIGRATIONS:
        if current < m.version <= target:
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in m.statements:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [m.version, m.description])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            applied.append(m.version)
    return applied
