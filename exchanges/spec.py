"""What a venue package tells the rest of perpflow about itself: ``VenueSpec``.

Each real venue lives in one folder under ``exchanges/`` (adapter, wire codec, stream, settings,
protocol fake) and exports a ``SPEC`` from its ``__init__``. ``exchanges.registry`` collects them,
and everything outside the folder (connecting, settings, the fakes launcher, the CLI, the hedge
bot's venue choices) iterates the registry instead of naming venues. The spec is plain data plus
factories that import the adapter, its SDK and its fake only when called, so reading the registry
costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


class FakeServer(Protocol):
    """A venue's protocol fake: a loopback server speaking the venue's real REST + WebSocket."""

    world: SimWorld

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str: ...
    async def stop(self) -> None: ...
    @property
    def base_url(self) -> str: ...
    @property
    def ws_url(self) -> str: ...


FaultKind = Literal["rate_limit", "server_error", "server_error_after", "slow_after"]
FaultOp = Literal["place", "positions"]


class FakeControls(Protocol):
    """What every protocol fake lets a test do, in the same words whatever the venue (the venue
    conformance suite drives every fake through these).

    - ``fail(kind, op)``: the next ``count`` requests of ``op`` ("place": order creation,
      "positions": the positions read) are answered 429 with ``retry_after`` ("rate_limit"), 5xx
      before the request took effect ("server_error") or after it ("server_error_after"), or
      after ``seconds`` although processed at once ("slow_after": the answer is lost to a timeout).
    - ``sent(op)``: how many requests of ``op`` arrived.
    - ``orders_with(client_id)``: how many orders the venue holds with that client id.
    - ``drop_streams()``: cut every WebSocket connection now.
    """

    def fail(self, kind: FaultKind, op: FaultOp, *, count: int = 1, retry_after: float = 1.0,
             seconds: float = 1.0) -> None: ...
    def sent(self, op: FaultOp) -> int: ...
    def orders_with(self, client_id: str) -> int: ...
    async def drop_streams(self) -> int: ...


@dataclass
class DemoFake:
    """A running-to-be fake with its throwaway demo account.

    ``settings()`` points the venue's live adapter at the fake; ``account`` is the venue-specific
    demo account object (tests use it), ``note`` a line the launcher prints.
    """

    server: Any  # FakeServer
    settings: Callable[[], BaseModel]
    account: Any = None
    note: str = ""


@dataclass(frozen=True)
class VenueSpec:
    """One venue: its name, settings model, live adapter factory and protocol fake factory.

    - ``symbol_format``: e.g. ``"{base}-USD-PERP"``; ``exchanges.symbols`` maps both ways with it.
    - ``roles``: what a bot may use it as ("primary": the hedge bot's maker venue; "hedge": where it
      hedges; "grid": the grid market maker's venue; "agent": an LLM agent's venue); ``defaults``: the
      roles it fills when a run names none.
    - ``chunked_close``: its displayed book is mostly not executable, so closes go in chunks no
      larger than what really executed recently.
    - ``adapter(settings, clock)``: the live adapter (None: simulator profile only).
    - ``check(settings)``: refuses missing or malformed credentials (``ConfigError`` naming the
      setting) before anything connects.
    - ``fake(world, open_registration)``: the protocol fake with its demo account, on ``world``.
    - ``account_label(settings)``: the account as printed (public address or id, never a key).
    - ``ws_endpoint(endpoint)``: the WebSocket URL implied by a REST endpoint override (None: the
      adapter derives it).
    """

    name: str
    label: str
    settings: type[BaseModel]
    symbol_format: str  # the venue's perpetual market name, "{base}" the user's symbol (SOL, ETH)
    roles: frozenset[str] = frozenset()
    defaults: frozenset[str] = frozenset()  # the roles it fills when a run names no venue for them
    chunked_close: bool = False
    adapter: Callable[[Any, Clock], Venue] | None = None
    check: Callable[[Any], None] = lambda s: None
    fake: Callable[[SimWorld, bool], DemoFake] | None = None
    fake_port: int = 0
    fake_about: str = ""
    account_label: Callable[[Any], str | None] = lambda s: None
    ws_endpoint: Callable[[str], str | None] = lambda endpoint: None
    docs: dict[str, str] = field(default_factory=dict)

    def env_name(self, name: str) -> str:
        """The environment variable of one of this venue's settings (``PERPFLOW_<VENUE>__<FIELD>``)."""
        return f"PERPFLOW_{self.name.upper()}__{name.upper()}"

    def env_lines(self, settings: BaseModel) -> dict[str, str]:
        """``settings`` as environment variables (secrets in clear: only for throwaway demo accounts)."""
        out: dict[str, str] = {}
        for name, value in settings.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            out[self.env_name(name)] = str(value)
        return out

    def secrets(self, settings: BaseModel) -> list[str]:
        """Every secret value in ``settings`` (tests grep logs and tables for them)."""
        return [v.get_secret_value() for v in settings.model_dump().values()
                if isinstance(v, SecretStr) and v.get_secret_value()]
