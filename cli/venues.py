"""Venue utilities: ``perpflow venues check``, ``perpflow positions close``, ``perpflow fake-venue``.

``venues check`` and ``positions close`` are the product notes' check_balance.py and
close_positions.py. Both run on the simulator unless told otherwise: ``--venue-mode live`` (or
naming an ``--endpoint``, which only a live venue has) uses the account in your settings, so
nothing touches a real account by accident. Closing reuses the bots' emergency exit
(``strategies.runtime.flatten``): reduce-only IOC orders, chunked where the displayed book is not
executable, a resting reduce-only order as the fallback, and flat believed only after consecutive
position reads agree. Output never shows a credential: accounts appear by their public address or
id, endpoints without any user:password part.

``fake-venue`` runs a venue's protocol fake (its real REST and WebSocket protocol on loopback,
backed by the simulator's matching engine) for developing offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer

from cli.strict import decimal_arg
from core.errors import ConfigError, VenueError
from core.types import Order, Side
from exchanges import registry
from exchanges.base import Venue
from render.tables import text_table

if TYPE_CHECKING:
    from core.settings import Settings

T = TypeVar("T")

fake_venue_app = typer.Typer(help="Run a venue's protocol fake (REST + WebSocket on loopback, backed by the "
                                  "simulator).", no_args_is_help=True)
venues_app = typer.Typer(help="Inspect a venue account: balance, positions, open orders, best bid/offer.",
                         no_args_is_help=True)
positions_app = typer.Typer(help="Act on a venue account's positions.", no_args_is_help=True)

# The venues come from the registry (exchanges/<venue>/ folders); typer lists them on a bad name.
VenueName = StrEnum("VenueName", {n: n for n in registry.names()})  # type: ignore[misc]


class VenueMode(StrEnum):
    sim = "sim"
    live = "live"


VenueOpt = Annotated[VenueName, typer.Option("--venue", case_sensitive=False,
                                             help=f"the venue: {'|'.join(registry.names())}")]
ModeOpt = Annotated[VenueMode | None, typer.Option(
    "--venue-mode", case_sensitive=False,
    help="sim: the embedded simulator (the default); live: the account in your settings (.env, "
         "PERPFLOW_<VENUE>__*). Giving --endpoint implies live.")]
EndpointOpt = Annotated[str | None, typer.Option(
    help="live only: the venue's REST base URL, overriding settings (e.g. a fake venue's URL, as "
         "perpflow fake-venue prints it)")]
WsEndpointOpt = Annotated[str | None, typer.Option(
    help="live only: the WebSocket URL; default: derived from --endpoint")]
SeedOpt = Annotated[int, typer.Option(help="sim only: simulation seed")]


# --- opening a venue -----------------------------------------------------------------------------
def venue_mode(mode: VenueMode | None, endpoint: str | None, ws_endpoint: str | None) -> str:
    """sim unless asked for live; an endpoint names a live venue."""
    if mode is None:
        return "live" if endpoint or ws_endpoint else "sim"
    if mode is VenueMode.sim and (endpoint or ws_endpoint):
        raise ConfigError("--endpoint", "targets a live venue; drop it, or use --venue-mode live")
    return mode.value


def public_url(url: str | None) -> str:
    """A URL without any user:password part (it is printed)."""
    if not url:
        return "the venue's default endpoint"
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def live_settings(venue: str, endpoint: str | None, ws_endpoint: str | None) -> Settings:
    """Settings from the environment and ``.env``, with the venue's endpoints overridden."""
    from exchanges.settings import Settings

    settings = Settings()
    if endpoint is None and ws_endpoint is None:
        return settings
    sub = getattr(settings, venue)
    if ws_endpoint is None and endpoint is not None:
        ws_endpoint = registry.get(venue).ws_endpoint(endpoint)  # None: the adapter derives it
    updated = sub.model_copy(update={"endpoint": endpoint or sub.endpoint, "ws_endpoint": ws_endpoint})
    return settings.model_copy(update={venue: updated})


def on_venue(venue: str, mode: str, endpoint: str | None, ws_endpoint: str | None, symbols: tuple[str, ...],
             seed: int, work: Callable[[Venue, str], Awaitable[T]]) -> T:
    """Open ``venue`` (simulated or live), run ``work(venue, description)``, close it."""
    from exchanges.connect import open_live, open_sim

    if mode == "sim":
        session = open_sim((venue,), symbols, seed=seed)
        where = f"simulator, seed {seed}"
    else:
        settings = live_settings(venue, endpoint, ws_endpoint)
        session = open_live((venue,), settings)
        sub = getattr(settings, venue)
        account = registry.get(venue).account_label(sub)
        env = getattr(sub, "env", None)
        where = f"live {env + ', ' if env else ''}{public_url(sub.endpoint)}, account {account}"

    async def main() -> T:
        try:
            v = session.venue(venue)
            await v.start()
            return await work(v, where)
        finally:
            await session.close()

    return session.clock.run(main)


def env_name(field: str) -> str:
    """The environment variable of a dotted settings field (venue.api_key -> PERPFLOW_VENUE__API_KEY)."""
    return "PERPFLOW_" + field.upper().replace(".", "__")


def config_error_text(exc: ConfigError) -> str:
    """The error, with the environment variable of a venue setting it names."""
    text = str(exc)
    if "." in exc.field and not exc.field.startswith("-"):
        text += f" (setting {env_name(exc.field)}, or a prefect-secret:<block> reference for a key)"
    return text


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Configuration and venue errors as one line naming the field or the venue (exit 2 / 1)."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"error: {config_error_text(exc)}", err=True)
        raise typer.Exit(2) from None
    except VenueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def symbol_list(symbols: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(s.strip().upper() for s in symbols.split(",") if s.strip()))
    if not out:
        raise ConfigError("--symbols", "give at least one symbol, e.g. SOL,ETH")
    return out


# --- venues check --------------------------------------------------------------------------------
def order_rows(orders: list[Order]) -> list[list[object]]:
    return [[o.symbol, o.side.value, o.type.value, o.price, o.size, o.filled, o.avg_price, o.status.value,
             "yes" if o.reduce_only else "", "yes" if o.post_only else "", o.client_id, o.order_id] for o in orders]


ORDER_HEADERS = ["symbol", "side", "type", "price", "size", "filled", "avg price", "status", "reduce-only", "post-only",
                 "client id", "order id"]


async def account_report(venue: Venue, where: str, symbols: tuple[str, ...]) -> str:
    bal = await venue.balance()
    positions = [p for p in await venue.positions() if p.size]
    orders = await venue.open_orders()
    quotes: list[list[object]] = []
    for s in symbols:
        try:
            b = await venue.bbo(s)
        except VenueError as exc:
            quotes.append([s, "-", "-", "-", "-", f"{exc.reason}"])
            continue
        quotes.append([s, b.bid, b.bid_size, b.ask, b.ask_size, (b.spread / b.mid * 10_000).quantize(Decimal("0.01"))])
    parts = [f"{venue.name} ({where})", "",
             "balance", text_table(["currency", "equity", "available"], [[bal.currency, bal.equity, bal.available]], 2),
             "", f"positions ({len(positions)})"]
    parts.append(text_table(["symbol", "size", "entry price"], [[p.symbol, p.size, p.entry_price] for p in positions])
                 if positions else "  none")
    parts += ["", f"open orders ({len(orders)})", text_table(ORDER_HEADERS, order_rows(orders)) if orders else "  none"]
    parts += ["", "best bid/offer", text_table(["symbol", "bid", "bid size", "ask", "ask size", "spread bps"], quotes)]
    return "\n".join(parts)


def check_venues(all_: bool, venue: VenueName | None) -> tuple[str, ...]:
    """The venues ``venues check`` reads: one (``--venue``) or every registered one (``--all``)."""
    if all_ == (venue is not None):
        raise ConfigError("--venue", f"give one venue ({'|'.join(registry.names())}) or --all")
    return registry.names() if venue is None else (venue.value,)


@venues_app.command("check")
def check_cmd(
    venue: Annotated[VenueName | None, typer.Option("--venue", case_sensitive=False,
                                                    help=f"the venue: {'|'.join(registry.names())}")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every venue: on the simulator every registered venue, live "
                                                     "every venue with a live adapter")] = False,
    symbols: Annotated[str, typer.Option(help="comma-separated symbols whose best bid/offer to show")] = "SOL,ETH,BTC",
    venue_mode_: ModeOpt = None,
    endpoint: EndpointOpt = None,
    ws_endpoint: WsEndpointOpt = None,
    seed: SeedOpt = 7,
) -> None:
    """Balance, positions, open orders and best bid/offer of one venue account, or of every one (read-only).

    On the simulator: perpflow venues check --venue <venue>

    Your account (credentials from settings): perpflow venues check --venue <venue> --venue-mode live

    Every account in your settings (e.g. against perpflow fake-venue all): perpflow venues check --all
    --venue-mode live

    A fake venue (perpflow fake-venue <venue> prints its URL): perpflow venues check --venue <venue>
    --endpoint <URL>
    """
    failed: list[str] = []
    with cli_errors():
        mode = venue_mode(venue_mode_, endpoint, ws_endpoint)
        wanted = symbol_list(symbols)
        names = check_venues(all_, venue)
        if all_ and (endpoint or ws_endpoint):
            raise ConfigError("--endpoint", "names one venue's endpoint; use it with --venue, not --all")
        if all_ and mode == "live":
            names = tuple(n for n in names if registry.get(n).adapter is not None)
        if len(names) == 1:
            typer.echo(on_venue(names[0], mode, endpoint, ws_endpoint, wanted, seed,
                                lambda v, where: account_report(v, where, wanted)))
            return
    for i, name in enumerate(names):  # --all: every venue, each failure said and counted, the rest still read
        if i:
            typer.echo("")
        try:
            typer.echo(on_venue(name, mode, None, None, wanted, seed,
                                lambda v, where: account_report(v, where, wanted)))
        except (ConfigError, VenueError) as exc:
            failed.append(name)
            text = config_error_text(exc) if isinstance(exc, ConfigError) else str(exc)
            typer.echo(f"{name}: error: {text}", err=True)
    if failed:
        typer.echo(f"\n{len(failed)} of {len(names)} venues could not be read: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


# --- positions close -----------------------------------------------------------------------------
async def executable_chunk(venue: Venue, symbol: str) -> Decimal | None:
    """The largest size the venue really executed recently, capped by its displayed top of book."""
    from strategies.preflight import executable_size

    trades, book = await venue.trades(symbol, 200), await venue.book(symbol, 10)
    return executable_size(tuple(trades), book).size


async def close_position(venue: Venue, where: str, symbol: str, *, slippage_bps: Decimal, chunk: Decimal | None,
                         sim_position: Decimal | None) -> tuple[str, bool]:
    """Flatten ``symbol`` on ``venue`` with the bots' flatten; (report, flat)."""
    from strategies.runtime.flatten import flatten

    prefix = f"close-{int(time.time() * 1000):x}"
    lines = [f"{venue.name} {symbol} ({where})"]
    if sim_position:
        side = Side.BUY if sim_position > 0 else Side.SELL
        o = await venue.place_market(symbol, side, abs(sim_position), client_id=f"{prefix}-open",
                                     max_slippage_bps=Decimal(50))
        lines.append(f"  rehearsal: opened {o.side.value} {o.filled} with a market order")
    before = (await venue.position(symbol)).size
    if chunk is None and venue.name in registry.names() and registry.get(venue.name).chunked_close:
        chunk = await executable_chunk(venue, symbol)
    lines.append(f"  position before: {before}" + (f"; IOC chunks of at most {chunk}" if chunk else ""))
    sent: list[Order] = []
    result = await flatten([venue], symbol, client_prefix=prefix, chunk={venue.name: chunk},
                           slippage_bps=slippage_bps, on_order=sent.append)
    if sent:
        lines += ["", text_table(ORDER_HEADERS, order_rows(sent)), ""]
    if result.ok:
        lines.append(f"flat: {symbol} on {venue.name} is 0, confirmed by consecutive position reads "
                     f"({len(sent)} reduce-only order{'s' if len(sent) != 1 else ''} sent)")
    else:
        lines.append(f"NOT flat: {result.detail}")
    return "\n".join(lines), result.ok


@positions_app.command("close")
def close_cmd(
    venue: VenueOpt,
    symbol: Annotated[str, typer.Option(help="the position's symbol: SOL, ETH, BTC, ...")],
    venue_mode_: ModeOpt = None,
    endpoint: EndpointOpt = None,
    ws_endpoint: WsEndpointOpt = None,
    slippage_bps: Annotated[Decimal, typer.Option(help="slippage cap of the first IOC order from the touch "
                                                      "(it grows with each retry)", parser=decimal_arg)] = Decimal(25),
    chunk: Annotated[Decimal | None, typer.Option(help="largest IOC order; default: the venue's max order size, "
                                                      "or where the displayed book is mostly not executable, "
                                                      "what it really executed recently", parser=decimal_arg)] = None,
    sim_position: Annotated[Decimal | None, typer.Option(help="sim only: open this signed position first, to "
                                                              "rehearse the close", parser=decimal_arg)] = None,
    seed: SeedOpt = 7,
) -> None:
    """Flatten one position with reduce-only orders and confirm it is flat (exit 1 if not).

    Cancels the symbol's open orders first (a resting order could reopen the position), then sends reduce-only IOC
    orders with a growing slippage cap and, if takers find nothing, a resting reduce-only order at the touch.
    Reduce-only orders can only shrink a position, never flip it. Flat is believed after consecutive reads agree.

    Rehearse on the simulator: perpflow positions close --venue <venue> --symbol SOL --sim-position 0.5

    Your account (credentials from settings): perpflow positions close --venue <venue> --symbol ETH --venue-mode live
    """
    with cli_errors():
        mode = venue_mode(venue_mode_, endpoint, ws_endpoint)
        if sim_position is not None and mode != "sim":
            raise ConfigError("--sim-position", "rehearses on the simulator only; drop it for a live venue")
        if slippage_bps <= 0 or slippage_bps > 1000:
            raise ConfigError("--slippage-bps", f"{slippage_bps} is outside 0 < bps <= 1000")
        if chunk is not None and chunk <= 0:
            raise ConfigError("--chunk", f"{chunk} must be a positive size")
        sym = symbol_list(symbol)
        if len(sym) != 1:
            raise ConfigError("--symbol", "close one symbol at a time")
        text, flat = on_venue(venue.value, mode, endpoint, ws_endpoint, sym, seed,
                              lambda v, where: close_position(v, where, sym[0], slippage_bps=slippage_bps,
                                                              chunk=chunk, sim_position=sim_position))
    typer.echo(text)
    if not flat:
        raise typer.Exit(1)


# --- fake-venue ----------------------------------------------------------------------------------
async def serve_fakes(names: tuple[str, ...] | None, host: str, ports: dict[str, int], seed: int,
                      symbols: tuple[str, ...], seconds: float | None) -> None:
    """Run the fakes of ``names`` (None: every venue's) on one simulated market until interrupted
    (or ``seconds``)."""
    from exchanges.fakes.venues import FakeVenues

    # open registration: fakes that can also sign in any other account's key
    fakes = FakeVenues(names, symbols=symbols, seed=seed, open_registration=True)
    await fakes.start(host, ports=ports)
    try:
        for name in fakes.names:
            fake = fakes.server(name)
            typer.echo(f"fake {registry.get(name).label} on {fake.base_url} (WebSocket {fake.ws_url}), seed {seed}, "
                       f"markets {', '.join(symbols)}")
        typer.echo("Point perpflow at it (.env, or export these; the keys are throwaway demo accounts):")
        for name, value in fakes.env().items():
            typer.echo(f"  {name}={value}")
        for note in fakes.notes():
            typer.echo(f"  ({note})")
        typer.echo("Ctrl-C stops.")
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    finally:
        await fakes.stop()


def _serve(names: tuple[str, ...] | None, host: str, ports: dict[str, int], seed: int, symbols: str,
           seconds: float | None) -> None:
    with cli_errors():
        markets = symbol_list(symbols)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_fakes(names, host, ports, seed, markets, seconds))


def port_map(ports: str | None, names: tuple[str, ...]) -> dict[str, int]:
    """``venue=port,...`` over each venue's default port."""
    out = {n: registry.get(n).fake_port for n in names}
    for item in (ports or "").split(","):
        if not item.strip():
            continue
        name, _, port = item.partition("=")
        name = name.strip().lower()
        if name not in names or not port.strip().isdigit():
            raise ConfigError("--ports", f"{item.strip()!r}: give venue=port with a venue among "
                                         f"{', '.join(names)}")
        out[name] = int(port)
    return out


HostOpt = Annotated[str, typer.Option(help="address to listen on")]
FakeSeedOpt = Annotated[int, typer.Option(help="simulation seed")]
SymbolsOpt = Annotated[str, typer.Option(help="comma-separated markets (SOL, ETH, BTC)")]
SecondsOpt = Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")]
PortsOpt = Annotated[str | None, typer.Option(help="venue=port,... (0: any free port); default: each venue's "
                                                   "usual fake port")]


def _fake_command(name: str) -> None:
    spec = registry.get(name)

    def command(
        port: Annotated[int, typer.Option(help="TCP port (0: any free port)")] = spec.fake_port,
        host: HostOpt = "127.0.0.1", seed: FakeSeedOpt = 7, symbols: SymbolsOpt = "SOL,ETH,BTC",
        seconds: SecondsOpt = None,
    ) -> None:
        _serve((name,), host, {name: port}, seed, symbols, seconds)

    command.__doc__ = f"A fake {spec.label}: {spec.fake_about}."
    fake_venue_app.command(name)(command)


for _name in registry.names(fake=True):
    _fake_command(_name)


@fake_venue_app.command("all")
def all_cmd(
    ports: PortsOpt = None,
    host: HostOpt = "127.0.0.1", seed: FakeSeedOpt = 7, symbols: SymbolsOpt = "SOL,ETH,BTC",
    seconds: SecondsOpt = None,
) -> None:
    """Every venue's fake on one simulated market (one fair value): every bot's venues, offline.

    Then, with the printed lines in .env: perpflow venues check --all, or perpflow hedge --venue-mode live
    """
    names = registry.names(fake=True)
    with cli_errors():
        port_of = port_map(ports, names)
    _serve(names, host, port_of, seed, symbols, seconds)


@fake_venue_app.command("pair", hidden=True)
def pair_cmd(
    ports: PortsOpt = None,
    host: HostOpt = "127.0.0.1", seed: FakeSeedOpt = 7, symbols: SymbolsOpt = "SOL,ETH,BTC",
    seconds: SecondsOpt = None,
) -> None:
    """The same as ``all`` (its former name, when two venues had fakes)."""
    all_cmd(ports, host, seed, symbols, seconds)
