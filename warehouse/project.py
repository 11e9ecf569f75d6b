"""How typed journal records become rows of each warehouse table, and how those rows merge.

The same projections serve the loader (records of a batch into the tables) and the live views
(records not loaded yet, shown beside the tables), so a live row and its loaded row are identical.
``{src}`` is a relation of typed records (``validate.typed_select``), ``{runs}`` a relation with
(run_id, bot) used to stamp orders and fills with their bot.
"""

from __future__ import annotations

from dataclasses import dataclass


def ts(expr: str) -> str:
    """Epoch seconds (DOUBLE) to a UTC TIMESTAMP with microseconds, independent of the session time zone."""
    return f"make_timestamp(CAST(round({expr} * 1000000) AS BIGINT))"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[str, ...]
    select: str  # projection from {src} (and {runs}); column names as in the table
    upsert: bool  # True: keep the latest row per key (order); False: first one wins, later are duplicates
    order: str = "seq"  # what "latest" means among rows of one key
    kind: str = ""  # the record kind its rows come from

    def __post_init__(self) -> None:
        if f"r.kind = '{self.kind}'" not in self.select:
            raise AssertionError(f"table {self.name}: its projection does not read records of kind {self.kind!r}")

    def sql(self, src: str, runs: str = "runs") -> str:
        return self.select.format(src=src, runs=runs)

    def key_hash(self, alias: str) -> str:
        """The row's ``key_hash``: DuckDB's 64-bit hash of the natural key (see ``warehouse/keys.py``)."""
        return "hash(" + ", ".join(f"{alias}.{k}" for k in self.key) + ")"


# The bot of a record's run, joined in (a correlated subquery would make DuckDB deduplicate the
# run_id of every record first: a third of a fill load's time).
BOT = "b.bot"
BOT_JOIN = ("LEFT JOIN (SELECT x.run_id, any_value(x.bot) AS bot FROM {runs} x GROUP BY x.run_id) b "
            "ON b.run_id = r.run_id")

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("orders", ("venue", "order_id", "run_id"), f"""
        SELECT r.venue, r.order_id, r.run_id, {BOT} AS bot, r.client_id, r.symbol, r.side, r.type, r.post_only,
               r.reduce_only, r.price, r.size, r.filled, r.avg_price, r.status, r.reject_reason, {ts('r.ts')} AS ts,
               r.seq, r.journal
        FROM {{src}} r {BOT_JOIN} WHERE r.kind = 'order'""", upsert=True, order="ts, seq", kind="order"),
    Table("order_events", ("venue", "order_id", "seq", "run_id"), f"""
        SELECT r.venue, r.order_id, r.seq, r.run_id, r.status, r.price, r.size, r.filled, r.avg_price,
               r.reject_reason, {ts('r.ts')} AS ts, r.journal
        FROM {{src}} r WHERE r.kind = 'order'""", upsert=False, kind="order"),
    Table("fills", ("venue", "order_id", "trade_id", "run_id"), f"""
        SELECT r.venue, r.order_id, r.trade_id, r.run_id, {BOT} AS bot, r.client_id, r.symbol, r.side, r.price,
               r.size, r.fee, r.liquidity, {ts('r.ts')} AS ts, r.bid, r.ask, r.seq, r.journal,
               CAST(r.price AS DOUBLE) * CAST(r.size AS DOUBLE) AS notional
        FROM {{src}} r {BOT_JOIN} WHERE r.kind = 'fill'""", upsert=False, kind="fill"),
    Table("cycles", ("run_id", "cycle_no"), f"""
        SELECT r.run_id, r.cycle_no, r.bot, r.iteration, r.cycle_kind AS kind, r.direction, r.primary_venue,
               r.hedge_venue, r.symbol, r.size, r.primary_price, r.hedge_price, r.edge_bps, r.primary_fee,
               r.hedge_fee, r.primary_fee + r.hedge_fee AS fees, r.gross_pnl, r.pnl, r.net_delta_after,
               r.hedge_latency_ms, r.status, {ts('r.started')} AS started, {ts('r.ended')} AS ended, r.seq, r.journal,
               CAST(r.size AS DOUBLE)
                 * CAST(coalesce(r.primary_price, 0) + coalesce(r.hedge_price, 0) AS DOUBLE) AS volume,
               CAST(r.primary_orders AS VARCHAR[]) AS primary_orders,
               CAST(r.hedge_orders AS VARCHAR[]) AS hedge_orders, r.primary_maker_share, r.hedge_maker_share,
               r.hedge_taker_reason
        FROM {{src}} r WHERE r.kind = 'cycle'""", upsert=True, kind="cycle"),
    Table("positions", ("run_id", "venue", "symbol", "ts"), f"""
        SELECT r.run_id, r.venue, r.symbol, {ts('r.ts')} AS ts, r.size, r.entry_price, r.source, r.seq, r.journal,
               r.mark
        FROM {{src}} r WHERE r.kind = 'position'""", upsert=True, kind="position"),
    Table("risk_events", ("run_id", "ts", "seq"), f"""
        SELECT r.run_id, {ts('r.ts')} AS ts, r.seq, r."check" AS check_name, r.reason, r.state_from, r.state_to,
               r.detail, r.data, r.journal
        FROM {{src}} r WHERE r.kind = 'risk'""", upsert=False, kind="risk"),
    Table("funding", ("run_id", "venue", "symbol", "ts"), f"""
        SELECT r.run_id, r.venue, r.symbol, {ts('r.ts')} AS ts, r.rate, r.position, r.payment, r.seq, r.journal
        FROM {{src}} r WHERE r.kind = 'funding'""", upsert=False, kind="funding"),
    Table("sentiment", ("source", "metric", "symbol", "ts"), f"""
        SELECT r.source, r.metric, r.symbol, {ts('r.ts')} AS ts, r.value, r.age_s, r.stale, r.detail, r.run_id,
               r.seq, r.journal
        FROM {{src}} r WHERE r.kind = 'sentiment'""", upsert=False, kind="sentiment"),
    Table("insights", ("insight_id",), f"""
        SELECT r.insight_id, {ts('r.ts')} AS ts, r.scope, r.topic, r.data, r.confidence, r.source, r.run_id, r.seq,
               r.journal, r.version, {ts('r.expires')} AS expires, r.review_id
        FROM {{src}} r WHERE r.kind = 'insight'""", upsert=True, order="ts, seq", kind="insight"),
    Table("reviews", ("review_id",), f"""
        SELECT r.review_id, {ts('r.ts')} AS ts, r.reviewer, r.model, {ts('r.period_start')} AS period_start,
               {ts('r.period_end')} AS period_end, r.summary, r.body, r.valid, r.run_id, r.seq, r.journal,
               r.prompt_version, r.prompt_hash, r.inputs_digest, r.answer, r.parsed, r.verdict, r.prompt_tokens,
               r.completion_tokens, r.latency_ms, r.attempts, r.error
        FROM {{src}} r WHERE r.kind = 'review'""", upsert=True, order="ts, seq", kind="review"),
    Table("book_samples", ("run_id", "venue", "symbol", "ts"), f"""
        SELECT r.run_id, r.venue, r.symbol, {ts('r.ts')} AS ts, r.bid, r.ask, r.seq, r.journal
        FROM {{src}} r WHERE r.kind = 'book_sample'""", upsert=False, kind="book_sample"),
    Table("strategy_events", ("run_id", "ts", "seq"), f"""
        SELECT r.run_id, {ts('r.ts')} AS ts, r.seq, {BOT} AS bot, r.event, r.detail, r.data, r.journal
        FROM {{src}} r {BOT_JOIN} WHERE r.kind = 'strategy_event'""", upsert=False, kind="strategy_event"),
    Table("decisions", ("decision_id",), f"""
        SELECT r.decision_id, r.run_id, {BOT} AS bot, {ts('r.ts')} AS ts, r.venue, r.mode, r.inputs_digest,
               r.prompt_hash, r.allowed, r.llm_called, r.verdict, r.reason, r.action, r.symbol, r.size_usd,
               r.confidence, r.calibrated_confidence, r.answer, r.parsed, r.latency_ms, r.prompt_tokens,
               r.completion_tokens, r.repaired, r.inputs, r.seq, r.journal
        FROM {{src}} r {BOT_JOIN} WHERE r.kind = 'decision'""", upsert=False, kind="decision"),
    Table("agent_trades", ("run_id", "trade_no"), f"""
        SELECT r.run_id, r.trade_no, {BOT} AS bot, r.venue, r.symbol, r.direction, r.mode, r.decision_id,
               r.confidence, r.calibrated_confidence, {ts('r.opened')} AS opened, {ts('r.closed_at')} AS closed_at,
               r.hold_s, r.size, r.entry_price, r.exit_price, r.notional, r.entry_maker, r.exit_rule, r.gross_pnl,
               r.fees, r.spread_cost, r.funding_paid, r.pnl, r.drag_pct, r.win, r.seq, r.journal
        FROM {{src}} r {BOT_JOIN} WHERE r.kind = 'agent_trade'""", upsert=False, kind="agent_trade"),
    Table("mode_changes", ("run_id", "ts", "seq"), f"""
        SELECT r.run_id, {ts('r.ts')} AS ts, r.seq, r.mode_from, r.mode_to, r.reason, r.banked_usd,
               r.burn_spent_usd, r.journal
        FROM {{src}} r WHERE r.kind = 'mode_change'""", upsert=False, kind="mode_change"),
)}

# A run's mode (backtest | paper | live) and clock (virtual: simulated timestamps | real), as its
# run_start says or, for bots that do not say, from its parameters: live venues are live; the
# simulator on the real clock is paper trading; on the virtual clock, a backtest.
RUN_MODE = """coalesce({mode}, CASE WHEN ({params}) IS NULL THEN NULL
    WHEN json_extract_string({params}, '$.venue_mode') = 'live' THEN 'live'
    WHEN json_extract_string({params}, '$.sim_clock') = 'real' THEN 'paper' ELSE 'backtest' END)"""
RUN_CLOCK = """coalesce({clock}, CASE WHEN ({params}) IS NULL THEN NULL
    WHEN json_extract_string({params}, '$.venue_mode') = 'live'
      OR json_extract_string({params}, '$.sim_clock') = 'real' THEN 'real' ELSE 'virtual' END)"""

# One row per run from its run_start and run_end records (a batch may hold either or both).
RUNS_SELECT = f"""
    SELECT r.run_id,
           any_value(r.bot) FILTER (WHERE r.kind = 'run_start') AS bot,
           any_value(r.flow_run_id) FILTER (WHERE r.kind = 'run_start') AS flow_run_id,
           any_value(CAST(r.venues AS VARCHAR[])) FILTER (WHERE r.kind = 'run_start') AS venues,
           any_value(r.symbol) FILTER (WHERE r.kind = 'run_start') AS symbol,
           any_value(r.params) FILTER (WHERE r.kind = 'run_start') AS params,
           {ts("min(r.started) FILTER (WHERE r.kind = 'run_start')")} AS started,
           {ts("max(r.ended) FILTER (WHERE r.kind = 'run_end')")} AS ended,
           arg_max(r.status, r.seq) FILTER (WHERE r.kind = 'run_end') AS status,
           arg_max(r.reason, r.seq) FILTER (WHERE r.kind = 'run_end') AS reason,
           any_value(r.journal) AS journal,
           {RUN_MODE.format(mode="any_value(r.mode) FILTER (WHERE r.kind = 'run_start')",
                            params="any_value(r.params) FILTER (WHERE r.kind = 'run_start')")} AS mode,
           {RUN_CLOCK.format(clock="any_value(r.clock) FILTER (WHERE r.kind = 'run_start')",
                             params="any_value(r.params) FILTER (WHERE r.kind = 'run_start')")} AS clock
    FROM {{src}} r WHERE r.kind IN ('run_start', 'run_end') GROUP BY r.run_id"""

RUN_COLUMNS = ("run_id", "bot", "flow_run_id", "venues", "symbol", "params", "started", "ended", "status", "reason",
               "journal")
START_ONLY = ("mode", "clock")  # set by run_start only (warehouse v4 and later)


def newest_first(table: Table) -> str:
    return ", ".join(f"{c.strip()} DESC" for c in table.order.split(","))


def merged_runs(table: str, new: str) -> str:
    """Loaded runs overlaid with what ``new`` (RUNS_SELECT rows) says: end fields win once present."""
    keep = ", ".join(f"coalesce(n.{c}, t.{c}) AS {c}" for c in RUN_COLUMNS[1:8])
    return f"""
        SELECT coalesce(n.run_id, t.run_id) AS run_id, {keep},
               CASE WHEN n.status IS NOT NULL THEN n.status WHEN t.status IS NOT NULL THEN t.status
                    ELSE 'RUNNING' END AS status,
               CASE WHEN n.status IS NOT NULL THEN n.reason ELSE t.reason END AS reason,
               coalesce(t.journal, n.journal) AS journal, coalesce(n.mode, t.mode) AS mode,
               coalesce(n.clock, t.clock) AS clock
        FROM {table} t FULL OUTER JOIN ({new}) n ON t.run_id = n.run_id"""
