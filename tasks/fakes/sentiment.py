"""A loopback server serving the sentiment sources' real response shapes, with switchable faults.

Routes (point ``PERPFLOW_SENTIMENT__FEAR_GREED_URL`` / ``__LONG_SHORT_URL`` at them):

- ``GET /fng/`` — alternative.me's Fear & Greed shape (string values, epoch-second timestamps,
  ``time_until_update`` on the newest row, newest first);
- ``GET /futures/data/globalLongShortAccountRatio?symbol=BTCUSDT`` — a public futures endpoint's
  long/short account ratio shape (string ratios, millisecond timestamps, newest last).

Faults, each for ``count`` requests (or until cleared), per route prefix (``fng`` / ``ls``):
``timeout`` (answers after ``seconds``), ``error`` (500), ``rate_limit`` (429 + Retry-After),
``malformed`` (truncated JSON); ``stale_hours`` dates the served data that many hours back.
"""

from __future__ import annotations

import time
from typing import Literal, Self

from aiohttp import web

from exchanges.fakes.loopback import Faults, LoopbackServer

FNG_PATH = "/fng/"
LS_PATH = "/futures/data/globalLongShortAccountRatio"
ROUTES = {"fng": f"GET {FNG_PATH}", "ls": f"GET {LS_PATH}"}
Route = Literal["fng", "ls"]

CLASSES = ((25, "Extreme Fear"), (46, "Fear"), (55, "Neutral"), (75, "Greed"), (101, "Extreme Greed"))


def classify(value: int) -> str:
    return next(label for bound, label in CLASSES if value < bound)


class FakeSentiment:
    def __init__(self, *, fear_greed: int = 40, ratios: dict[str, float] | None = None) -> None:
        self.fear_greed = fear_greed
        self.ratios = ratios if ratios is not None else {"BTCUSDT": 1.25, "ETHUSDT": 0.8, "SOLUSDT": 2.5}
        self.stale_hours: dict[str, float] = {"fng": 0.0, "ls": 0.0}
        self.faults = Faults()
        app = web.Application()
        app.router.add_get(FNG_PATH, self._fng)
        app.router.add_get(LS_PATH, self._ls)
        self.server = LoopbackServer(app, self.faults, shutdown_timeout=0.2)

    # --- faults --------------------------------------------------------------------------------------
    def timeout(self, route: Route, seconds: float = 30.0, count: int | None = 1) -> Self:
        self.faults.slow(seconds, count, ROUTES[route])
        return self

    def error(self, route: Route, status: int = 500, count: int | None = 1) -> Self:
        self.faults.server_error(count, status, ROUTES[route])
        return self

    def rate_limit(self, route: Route, retry_after: float = 1.0, count: int | None = 1) -> Self:
        self.faults.rate_limit(count, retry_after, ROUTES[route])
        return self

    def malformed(self, route: Route, count: int | None = 1) -> Self:
        self.faults.malformed(count, ROUTES[route])
        return self

    def stale(self, route: Route, hours: float) -> Self:
        self.stale_hours[route] = hours
        return self

    def clear(self) -> None:
        self.faults.clear()
        self.stale_hours = {"fng": 0.0, "ls": 0.0}

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        await self.server.start(host, port)
        return self.url("")

    async def stop(self) -> None:
        await self.server.stop()

    def url(self, path: str) -> str:
        return f"http://{self.server.host}:{self.server.port}{path}"

    @property
    def fear_greed_url(self) -> str:
        return self.url(FNG_PATH)

    @property
    def long_short_url(self) -> str:
        return self.url(LS_PATH)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers ------------------------------------------------------------------------------------
    async def _fng(self, request: web.Request) -> web.Response:
        limit = max(1, min(int(request.query.get("limit", "1") or 1), 30))
        day = 86400
        newest = int((time.time() - self.stale_hours["fng"] * 3600) // day * day)
        data = []
        for i in range(limit):
            value = max(0, min(100, self.fear_greed - 2 * i))
            row = {"value": str(value), "value_classification": classify(value), "timestamp": str(newest - i * day)}
            if i == 0:
                row["time_until_update"] = str(max(0, newest + day - int(time.time())))
            data.append(row)
        return web.json_response({"name": "Fear and Greed Index", "data": data, "metadata": {"error": None}})

    async def _ls(self, request: web.Request) -> web.Response:
        pair = request.query.get("symbol", "")
        if pair not in self.ratios:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = max(1, min(int(request.query.get("limit", "30") or 30), 500))
        hour = 3600
        newest = int((time.time() - self.stale_hours["ls"] * 3600) // hour * hour)
        ratio = self.ratios[pair]
        rows = []
        for i in reversed(range(limit)):
            long_share = ratio / (1 + ratio)
            rows.append({"symbol": pair, "longShortRatio": f"{ratio:.4f}", "longAccount": f"{long_share:.4f}",
                         "shortAccount": f"{1 - long_share:.4f}", "timestamp": (newest - i * hour) * 1000})
        return web.json_response(rows)
