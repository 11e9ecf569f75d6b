"""The slow path: a journal segment with a bad record, typed line by line.

``read_json`` tells neither a line's text nor its offset, and the quarantine keeps both. So the
new lines of a journal with a bad record are split in Python and typed with ``json_transform``
(the same types as ``read_json``, from the same contract), each with ``problem``: NULL for a good
record, else the reason. The loader loads the good ones and quarantines the others. Bad records
are rare, so this path may be slow; the fast path never pays for it.
"""

from __future__ import annotations

import logging

import duckdb

from warehouse import segments
from warehouse.validate import transform_spec, typed_select

log = logging.getLogger(__name__)

TABLE = "slow"
EXTRA = ", s.journal, s.line_offset, s.raw"


def _lines_source(table: str) -> str:
    return (f"SELECT j.*, journal, line_offset, raw FROM (SELECT CASE WHEN json_valid(raw) AND "
            f"json_type(raw) = 'OBJECT' THEN json_transform(raw, {transform_spec()}) END AS j, "
            f"journal, line_offset, raw FROM {table})")


def create(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment]) -> None:
    """Temp table ``slow``: every new line of ``segs`` typed, with journal, line_offset, raw, problem."""
    import pandas as pd  # only here: every bot process imports the loader, and pandas costs ~1-2 s to import

    con.execute("CREATE OR REPLACE TEMP TABLE lines_empty (journal VARCHAR, line_offset BIGINT, raw VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS "
                f"{typed_select('(' + _lines_source('lines_empty') + ')', EXTRA)} LIMIT 0")
    for seg in segs:
        if seg.end <= seg.start:
            continue
        rows = segments.lines(seg)
        log.warning("journal %s: bad records among %d new lines; they go to quarantine", seg.journal, len(rows))
        frame = pd.DataFrame({"journal": seg.journal, "line_offset": [o for o, _ in rows],
                              "raw": [t for _, t in rows]})
        con.register("seg_lines", frame)
        try:
            con.execute(f"INSERT INTO {TABLE} {typed_select('(' + _lines_source('seg_lines') + ')', EXTRA)}")
        finally:
            con.unregister("seg_lines")
        # a line cut to its first PRINT_LIMIT bytes (printable) is no record any more: say why
        con.execute(rf"""UPDATE {TABLE} SET problem = 'record of ' || regexp_extract(raw, '\(([0-9]+) bytes\)$', 1)
                        || ' bytes: longer than any record of the contract ({segments.PRINT_LIMIT} bytes kept here)'
                        WHERE journal = ? AND length(raw) > {segments.PRINT_LIMIT}
                          AND regexp_matches(raw, '\.\.\. \([0-9]+ bytes\)$')""", [seg.journal])
