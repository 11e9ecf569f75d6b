"""A fake GRVT on loopback: GRVT's REST and legacy WebSocket protocol over the simulator.

``FakeGrvt`` serves, on one host and port, what grvt-pysdk reaches on GRVT's three hosts:

- ``POST /auth/api_key/login`` -> ``gravity`` session cookie (+ ``X-Grvt-Account-Id``);
- ``POST /full/v1/<rpc>``: instruments, instrument, mini, ticker, book, trade (public);
  create_order, cancel_order, cancel_all_orders, order, open_orders, order_history,
  fill_history, positions, account_summary, funding_account_summary (need the cookie);
- ``GET /ws``: legacy subscriptions to v1.mini.s/d, v1.ticker.s/d, v1.book.s/d, v1.order,
  v1.fill, v1.position (see ``grvt_stream``).

Orders are checked as GRVT checks them -- including the EIP-712 signature, recovered with
eth-account and compared with the signer registered for the API key, and its expiration -- and
matched by the simulator's engine (``SimWorld`` on a real clock; its grvt profile reproduces
GRVT's executable-size behaviour). Refusals carry GRVT's error shape ``{code, message, status}``.
Resting orders are cancelled with reason ``EXPIRED`` when their signature expires.

``faults`` switches failures at run time: 429 with Retry-After, 5xx (before or after the order
was processed), slow answers, refused WebSocket upgrades, malformed frames;
``drop_websockets()`` cuts every WebSocket connection.

    perpflow fake-venue grvt --port 8740   # prints the .env lines to point perpflow at it
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from eth_account import Account

from core.clock import RealClock
from exchanges.fakes.loopback import LoopbackFake, LoopbackServer, MarketDriver
from exchanges.grvt.fake_codec import GrvtReject
from exchanges.grvt.fake_engine import FakeAccount, FakeGrvtEngine
from exchanges.grvt.fake_stream import GrvtStreams
from exchanges.grvt.wire import client_order_id
from exchanges.sim.world import SimWorld
from exchanges.spec import FaultKind, FaultOp

PUBLIC = {"instruments", "all_instruments", "instrument", "mini", "ticker", "book", "trade"}


# FakeControls' ops -> this venue's routes
CONTROL_ROUTES = {"place": "create_order", "positions": "positions"}


@dataclass
class GrvtFaults:
    """Failures to inject; switch them at any time. Counters are consumed one request at a time,
    by requests whose route is in ``only`` (all routes when empty)."""

    rate_limited: int = 0  # answer 429 (code 1006) with Retry-After, without processing
    retry_after_s: float = 1.0
    server_errors: int = 0  # answer 500 (code 1002) without processing
    server_errors_after_processing: int = 0  # process (the order is placed), then answer 500
    slow: int = 0  # process, then hold the answer for slow_s
    slow_s: float = 0.0
    only: frozenset[str] = frozenset()
    refuse_ws: bool = False  # WebSocket upgrades answer 500 while set
    malformed_ws: int = 0  # the next N pushes are preceded by a frame that is not JSON

    def take(self, name: str, route: str) -> bool:
        if self.only and route not in self.only:
            return False
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class _Session:
    account: FakeAccount
    expires: float


@dataclass
class FakeGrvt(LoopbackFake):
    """A loopback GRVT. ``world`` must simulate the venue ``grvt`` on a real clock (it may be shared
    with other fakes: one market, one fair value)."""

    world: SimWorld = field(default_factory=lambda: SimWorld(venues=("grvt",), symbols=("ETH",), clock=RealClock()))
    accounts: list[FakeAccount] = field(default_factory=list)
    env: str = "testnet"
    session_ttl_s: float = 3600.0
    pending_acks: bool = True  # create_order answers PENDING, as GRVT does; the state follows

    def __post_init__(self) -> None:
        if self.world.clock.virtual:
            raise ValueError("FakeGrvt serves real sockets: give it a SimWorld on a RealClock")
        self.engine = FakeGrvtEngine(self.world, env=self.env, pending_acks=self.pending_acks)
        self.faults = GrvtFaults()
        self.requests: Counter[str] = Counter()
        self.streams = GrvtStreams(self)
        self._sessions: dict[str, _Session] = {}
        app = web.Application()
        app.router.add_post("/auth/api_key/login", self._login)
        app.router.add_post("/full/v1/{route}", self._rpc)
        app.router.add_get("/ws", self.streams.handle)
        self.server = LoopbackServer(app, shutdown_timeout=0.5)  # faults: GrvtFaults, in GRVT's error shape
        # the market moves in real time, and orders whose signature ran out expire
        self._market = MarketDriver(self.world, self.engine.expire, name="fake-grvt-market")

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port); returns the REST base URL."""
        await self.server.start(host, port)
        self._market.start()
        return self.base_url

    async def stop(self) -> None:
        self.streams.drop_all()
        await self._market.stop()
        await self.server.stop()

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_url(self) -> str:
        return self.url("http")

    @property
    def ws_url(self) -> str:
        return self.url("ws", "/ws")

    # --- accounts and sessions -----------------------------------------------------------------
    def add_account(self, api_key: str, signer: str, sub_account_id: str) -> FakeAccount:
        account = FakeAccount(api_key, signer, sub_account_id)
        self.accounts.append(account)
        return account

    def account_of(self, request: web.Request) -> FakeAccount | None:
        token = request.cookies.get("gravity")
        session = self._sessions.get(token or "")
        if session is None or session.expires <= self.world.clock.now():
            return None
        return session.account

    def expire_sessions(self) -> None:
        """Forget every session (the venue restarted): the next request needs a new login."""
        self._sessions.clear()

    async def _login(self, request: web.Request) -> web.Response:
        self.requests["login"] += 1
        try:
            body = await request.json()
        except ValueError:
            return self.error_response(GrvtReject(1003))
        key = body.get("api_key") if isinstance(body, dict) else None
        given = str(key or "").encode()
        account = next((a for a in self.accounts if given and secrets.compare_digest(a.api_key.encode(), given)), None)
        if account is None:
            return self.error_response(GrvtReject(1000))
        token = secrets.token_urlsafe(24)
        expires = self.world.clock.now() + self.session_ttl_s
        self._sessions[token] = _Session(account, expires)
        resp = web.json_response({"status": "success"})
        when = format_datetime(datetime.fromtimestamp(expires, UTC), usegmt=True)
        resp.headers["Set-Cookie"] = f"gravity={token}; Path=/; Expires={when}; HttpOnly; SameSite=Lax"
        resp.headers["X-Grvt-Account-Id"] = account.main_account_id
        return resp

    # --- REST ----------------------------------------------------------------------------------
    @staticmethod
    def error_response(rej: GrvtReject, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(rej.body(), status=rej.status, headers=headers)

    async def _rpc(self, request: web.Request) -> web.Response:
        route = request.match_info["route"]
        self.requests[route] += 1
        f = self.faults
        if f.take("rate_limited", route):
            return self.error_response(GrvtReject(1006), {"Retry-After": f"{f.retry_after_s:g}"})
        if f.take("server_errors", route):
            return self.error_response(GrvtReject(1002))
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self.error_response(GrvtReject(1003))
        try:
            result = self._answer(route, request, body)
            resp = web.json_response(result)
        except GrvtReject as rej:
            resp = self.error_response(rej)
        if f.take("server_errors_after_processing", route):
            resp = self.error_response(GrvtReject(1002))
        if f.take("slow", route):
            await asyncio.sleep(f.slow_s)
        return resp

    def _answer(self, route: str, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        e = self.engine
        if route in PUBLIC:
            instrument = str(body.get("instrument", ""))
            if route in ("instruments", "all_instruments"):
                return {"result": e.instruments_list(body)}
            if route == "instrument":
                if instrument not in e.instruments:
                    raise GrvtReject(1004)
                return {"result": e.instruments[instrument]}
            if route in ("mini", "ticker"):
                return {"result": e.mini(instrument)}
            if route == "book":
                return {"result": e.book(instrument, int(body.get("depth") or 10))}
            return {"result": e.trades(instrument, int(body.get("limit") or 100))}
        account = self.account_of(request)
        if account is None:
            raise GrvtReject(1000)
        if route not in ("funding_account_summary", "create_order") \
                and str(body.get("sub_account_id", "")) != account.sub_account_id:
            raise GrvtReject(1001)
        if route == "create_order":
            return {"result": e.create_order(account, body)}
        if route == "cancel_order":
            e.cancel(e.find(body))
            return {"result": {"ack": True}}
        if route == "cancel_all_orders":
            e.cancel_all(body)
            return {"result": {"ack": True}}
        if route == "order":
            return {"result": e.order_view(e.find(body))}
        if route == "open_orders":
            return {"result": e.open_orders(body)}
        if route == "order_history":
            return e.order_history(body)
        if route == "fill_history":
            return e.fill_history(account, body)
        if route == "positions":
            return {"result": e.positions(account, body)}
        if route == "account_summary":
            return {"result": e.account_summary(account)}
        if route == "funding_account_summary":
            return e.funding_account_summary(account)
        raise GrvtReject(1004, f"unknown route {route}")

    # --- faults --------------------------------------------------------------------------------
    def drop_websockets(self) -> int:
        """Cut every WebSocket connection now (no close frame); returns how many."""
        return self.streams.drop_all()

    # --- the controls every fake has (exchanges.spec.FakeControls) ------------------------------
    def fail(self, kind: FaultKind, op: FaultOp, *, count: int = 1, retry_after: float = 1.0,
             seconds: float = 1.0) -> None:
        f = self.faults
        f.only = frozenset({CONTROL_ROUTES[op]})
        if kind == "rate_limit":
            f.rate_limited, f.retry_after_s = count, retry_after
        elif kind == "server_error":
            f.server_errors = count
        elif kind == "server_error_after":
            f.server_errors_after_processing = count
        else:
            f.slow, f.slow_s = count, seconds

    def sent(self, op: FaultOp) -> int:
        return self.requests[CONTROL_ROUTES[op]]

    def orders_with(self, client_id: str) -> int:
        cloid = client_order_id(client_id)
        return sum(1 for o in self.engine.ex.orders.values() if o.client_id == cloid)

    async def drop_streams(self) -> int:
        return self.drop_websockets()


def demo_account(seed: str = "perpflow fake grvt") -> tuple[FakeAccount, str]:
    """A deterministic account for offline development: (account, its signer's private key)."""
    private_key = "0x" + hashlib.sha256(seed.encode()).hexdigest()
    signer = Account.from_key(private_key).address
    return FakeAccount("fake-grvt-api-key-" + hashlib.sha256(private_key.encode()).hexdigest()[:16], signer,
                       "1001"), private_key
