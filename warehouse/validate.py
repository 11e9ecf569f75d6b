"""SQL that types journal records and says what is wrong with a bad one, built from the contract.

The loader lets DuckDB parse journals (``read_json``, vectorised and parallel: Python could not
parse half a million lines a second). ``read_json(..., ignore_errors=true)`` turns a line that is
not JSON into a row of NULLs and a value of the wrong type into a NULL, so:

- a field every kind requires is read with its own type: NULL means missing or wrong;
- a field some kind may leave empty is read as text and cast here, so a wrong value (text that
  is not a decimal, say) is told apart from an honest null instead of vanishing;
- ``problem`` names the first field that breaks the contract and what it allows, or is NULL.

The same typing applies to lines handed over as text (``json_transform``), which is how the loader
re-reads a segment that has bad lines, to keep each bad line's raw text and offset.
"""

from __future__ import annotations

import json

from warehouse.contract import COMMON, DUCK_TYPES, KINDS, OBJ, STR, STR_LIST, Field, union_fields


def _q(name: str) -> str:
    return f'"{name}"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_type(f: Field) -> str:
    if f.type in (OBJ, STR_LIST):
        return "JSON"
    if f.type == STR or f.required:
        return DUCK_TYPES[f.type]
    return "VARCHAR"  # nullable non-text field: cast below, so a bad value is not a silent NULL


def _cast_needed(f: Field) -> bool:
    return f.type not in (STR, OBJ, STR_LIST) and not f.required


FIELDS = union_fields()


def columns_struct() -> str:
    """The ``columns=`` struct of read_json (and the type of json_transform) for every field."""
    return "{" + ", ".join(f"{_lit(f.name)}: {_lit(_read_type(f))}" for f in FIELDS.values()) + "}"


def transform_spec() -> str:
    """The same types as a JSON structure, for ``json_transform`` (a SQL string literal)."""
    return _lit(json.dumps({f.name: _read_type(f) for f in FIELDS.values()}))


def _typed(f: Field, alias: str) -> str:
    if _cast_needed(f):
        return f"TRY_CAST({alias}.{_q(f.name)} AS {DUCK_TYPES[f.type]}) AS {_q(f.name)}"
    return f"{alias}.{_q(f.name)}"


def typed_select(src: str, extra: str = "") -> str:
    """Typed record columns from ``src`` (read with ``columns_struct``), plus ``problem``."""
    cols = [_typed(f, "s") for f in FIELDS.values()]
    return f"SELECT {', '.join(cols)}, {problem_sql('s')} AS problem{extra} FROM {src} s"


def kind_fields(kinds: tuple[str, ...]) -> list[str]:
    """The fields records of ``kinds`` can carry (the common ones first), in contract order."""
    names = [f.name for f in COMMON]
    for kind in kinds:
        names += [f.name for f in KINDS[kind] if f.name not in names]
    return names


def kind_struct(kinds: tuple[str, ...]) -> str:
    """``columns=`` of a read_json that reads only the fields of ``kinds``, typed as ``columns_struct``.

    Reading the same field with the same type whatever the query keeps one typing for the loader's
    fast per-kind reads, its line-by-line reread of bad segments and the live views.
    """
    return "{" + ", ".join(f"{_lit(n)}: {_lit(_read_type(FIELDS[n]))}" for n in kind_fields(kinds)) + "}"


def kind_select(src: str, kinds: tuple[str, ...], extra: str = "") -> str:
    """Typed columns of ``kinds`` from ``src`` (read with ``kind_struct``) and ``ok``, for rows of those kinds.

    ``ok`` is true exactly when ``problem_sql`` would be NULL: it tests the same conditions in the
    same order, without building the reason (a bad record is rare; the loader then rereads its
    segment to name what is wrong).
    """
    cols = [_typed(FIELDS[n], "s") for n in kind_fields(kinds)]
    oks = " ".join(f"WHEN s.kind = {_lit(k)} THEN {ok_sql(k, 's')}" for k in kinds)
    where = ", ".join(_lit(k) for k in kinds)
    return (f"SELECT {', '.join(cols)}, CASE {oks} END AS ok{extra} FROM {src} s "
            f"WHERE s.kind IN ({where})")


def ok_sql(kind: str, alias: str) -> str:
    """True when a record of ``kind`` (read raw, as ``alias``) breaks no field of the contract.

    ``problem_sql``'s CASE names a problem exactly when one of its tests is true, and an OR of the
    same tests is true exactly then (a NULL test counts as not true in both): one OR decides the
    same at a fraction of the cost.
    """
    bad = [_bad(f, alias) for f in COMMON[1:]] + [_bad(f, alias) for f in KINDS[kind] if _bad(f, alias)]
    return "NOT coalesce(" + " OR ".join(f"({b})" for b in bad) + ", false)"


def _bad(f: Field, alias: str) -> str:
    col = f"{alias}.{_q(f.name)}"
    cast = _cast_needed(FIELDS[f.name])  # how the column was read is decided over all kinds
    typed = f"TRY_CAST({col} AS {DUCK_TYPES[f.type]})" if cast else col
    conds = []
    if f.required:
        conds.append(f"{typed} IS NULL")
    elif cast:
        conds.append(f"({col} IS NOT NULL AND {typed} IS NULL)")
    if f.type == OBJ:
        conds.append(f"({col} IS NOT NULL AND json_type({col}) NOT IN ('OBJECT', 'NULL'))")
        if f.required:
            conds.append(f"json_type({col}) = 'NULL'")
    if f.type == STR_LIST:
        conds.append(f"({col} IS NOT NULL AND json_type({col}) <> 'ARRAY')")
    if f.allowed:
        values = ", ".join(_lit(v) for v in f.allowed)
        conds.append(f"({col} IS NOT NULL AND {col} NOT IN ({values}))")
    return " OR ".join(conds)


def _reason(kind: str, f: Field, alias: str) -> str:
    col = f"{alias}.{_q(f.name)}"
    head = _lit(f"{kind}.{f.name}: ")
    if f.allowed:
        got = f"coalesce('''' || CAST({col} AS VARCHAR) || '''', 'missing')"
        return f"{head} || {got} || {_lit(' is not ' + f.describe())}"
    what = "missing, null or not " if f.required else "not "
    return _lit(f"{kind}.{f.name}: {what}{f.describe()}")


def problem_sql(alias: str) -> str:
    """A CASE naming the first broken field of a record, NULL for a good one."""
    kinds = ", ".join(_lit(k) for k in KINDS)
    whens = [f"WHEN {alias}.kind IS NULL THEN 'not a JSON object with a kind (malformed or torn line)'",
             f"WHEN {alias}.kind NOT IN ({kinds}) THEN 'kind: ''' || {alias}.kind || ''' is unknown; allowed: "
             f"{', '.join(KINDS)}'"]
    for f in COMMON[1:]:
        whens.append(f"WHEN {_bad(f, alias)} THEN {_reason('record', f, alias)}")
    for kind, fields in KINDS.items():
        inner = " ".join(f"WHEN {_bad(f, alias)} THEN {_reason(kind, f, alias)}" for f in fields if _bad(f, alias))
        whens.append(f"WHEN {alias}.kind = {_lit(kind)} THEN CASE {inner} END")
    return "CASE " + " ".join(whens) + " END"

