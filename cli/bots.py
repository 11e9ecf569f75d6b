"""Bot commands derived from each bot's parameter model: ``perpflow hedge --size 0.1 ...``.

A bot command's options are its parameter model's fields (help from the field's description, the
allowed values and default shown), so the model stays the only declaration. Values reach the model
as typed, and the model refuses a bad one naming the option, before any run starts.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import typer
from pydantic import BaseModel, ValidationError

from cli.strict import decimal_arg, float_arg, int_arg
from core.errors import ConfigError
from render.tables import text_table
from server.flow_api import ServerUnavailable


def _choices(annotation: Any) -> list[str]:
    """The allowed values of a Literal field (optional or not)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in args]
    return [c for a in args if a is not type(None) for c in _choices(a)]


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, tuple)


NUMBER_PARSERS = {Decimal: decimal_arg, int: int_arg, float: float_arg}


def _number(annotation: Any) -> type | None:
    """Decimal, int or float when the field is one of those (optional or not), else None."""
    for a in (annotation, *typing.get_args(annotation)):
        base = typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
        if base in NUMBER_PARSERS:
            return base
    return None


def option_name(model: type[BaseModel], field: str) -> str:
    names: dict[str, str] = getattr(model, "CLI_NAMES", {})
    return "--" + names.get(field, field).replace("_", "-")


def model_options(model: type[BaseModel]) -> list[inspect.Parameter]:
    """One typer option per field; every value arrives as typed (a string) for the model to validate."""
    params = []
    for name, f in model.model_fields.items():
        choices = _choices(f.annotation)
        help_text = f.description or name
        if choices:
            help_text += f"; one of: {', '.join(choices)}"
        if _is_list(f.annotation):  # a repeatable option
            given = f"; default: {', '.join(map(str, f.default))}" if f.default else ""
            opt = typer.Option(None, option_name(model, name), help=f"{help_text} (repeatable{given})",
                               metavar="VALUE")
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt,
                                            annotation=list[str] | None))  # type: ignore[arg-type]
            continue
        if _is_bool(f.annotation):  # a switch both ways: --maker-first / --no-maker-first
            flag = option_name(model, name)
            opt = typer.Option(f.default, f"{flag}/--no-{flag[2:]}", help=help_text)
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=bool))
            continue
        number = _number(f.annotation)
        if number is not None:  # plain notation only, refused by the option's parser (click's one line)
            opt = typer.Option(f.default, option_name(model, name), help=help_text, show_default=f.default is not None,
                               metavar="NUMBER", parser=NUMBER_PARSERS[number])
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt,
                                            annotation=number | None))  # type: ignore[operator]
            continue
        default = None if f.default is None else str(f.default)
        opt = typer.Option(default, option_name(model, name), help=help_text, show_default=default is not None,
                           metavar="VALUE")
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt,
                                        annotation=str | None))  # type: ignore[arg-type]
    return params


def refuse(model: type[BaseModel], exc: ValidationError) -> typer.Exit:
    """Print every invalid value as ``error: --option: reason`` (no traceback); exit code 2."""
    for err in exc.errors():
        loc = [str(x) for x in err["loc"] if str(x) in model.model_fields] or ["parameters"]
        where = option_name(model, loc[0]) if loc[0] in model.model_fields else loc[0]
        typer.echo(f"error: {where}: {err['msg'].removeprefix('Value error, ')}", err=True)
    return typer.Exit(2)


def print_summary(summary: dict[str, Any]) -> None:
    """The rows of the run's Prefect summary artifact, as a text table."""
    typer.echo(text_table(["metric", "value"], summary["rows"]))


def check_replays(cfg: BaseModel) -> None:
    """Read every ``--replay`` file whole before the flow starts: a bad file is refused here, naming its
    line and field, before any order (the flow checks again when it opens the venues). Any bot whose
    model has a ``replay`` field gets this; the file must record one of the symbols the bot trades."""
    items = getattr(cfg, "replay", ())
    if not items:
        return
    from exchanges.sim.replay import load_replays, parse_replay_args

    symbols = getattr(cfg, "symbols", None) or (getattr(cfg, "ticker", None) or cfg.symbol,)
    load_replays(parse_replay_args(items), tuple(symbols))


def run_flow(flow: Any, model: type[BaseModel], values: dict[str, Any],
             check: Callable[[Any], None] | None = None) -> tuple[str, str, dict[str, Any] | None]:
    """Validate ``values`` with the model (and ``check``), make sure the account lock exists, run the flow.

    Raises ``ValidationError`` or ``ConfigError`` for bad values, ``ServerUnavailable`` when no Prefect
    API can be reached or started (nothing started either way). Returns (status, message, summary).
    """
    from core.settings import get_settings
    from server.flow_api import flow_api
    from tasks.account import ensure_account_limit
    from tasks.botrun import result_of

    given = {k: v for k, v in values.items() if v is not None and v != []}
    cfg = model(**given)
    check_replays(cfg)
    if check is not None:
        check(cfg)
    with flow_api(get_settings().data_dir):  # the local server when it runs, else a temporary one
        ensure_account_limit(cfg.account_key)  # type: ignore[attr-defined]
        state = flow(**cfg.model_dump(), return_state=True)
    return result_of(state)


def run_and_print(flow: Any, model: type[BaseModel], values: dict[str, Any],
                  check: Callable[[Any], None] | None = None) -> None:
    """Run a bot's flow from the command line and print its outcome: the summary table, then the final
    state; exit 2 on bad settings, 1 when no Prefect API could be had or the run did not complete.
    A ``ValidationError`` propagates, so each command words bad options its own way."""
    try:
        status, message, summary = run_flow(flow, model, values, check)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ServerUnavailable as exc:
        typer.echo(f"error: {exc}; no order was sent", err=True)
        raise typer.Exit(1) from None
    if summary and "rows" in summary:
        print_summary(summary)
    typer.echo(f"\n{status}: {message}")
    if status != "COMPLETED":
        raise typer.Exit(1)


def bot_command(load_flow: Callable[[], Any], model: type[BaseModel], name: str, doc: str,
                check: Callable[[Any], None] | None = None) -> Callable[..., None]:
    """A typer command that runs the flow ``load_flow()`` returns (imported when the command runs, so
    ``perpflow --help`` stays quick) with options derived from ``model``, and prints its summary.
    ``check`` refuses a valid-looking model whose inputs are not (a file that does not parse)."""
    def command(**values: Any) -> None:
        try:
            run_and_print(load_flow(), model, values, check)
        except ValidationError as exc:
            raise refuse(model, exc) from None

    command.__signature__ = inspect.Signature(model_options(model), return_annotation=None)  # type: ignore
    command.__doc__ = inspect.cleandoc(doc)
    command.__name__ = f"{name}_cmd"
    return command
