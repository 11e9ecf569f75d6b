"""The fake speaks Paradex's wire protocol: status codes, error bodies, onboarding and auth as the
SDK does them, and JSON-RPC over WebSocket. Raw HTTP/WebSocket clients here, not the adapter."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import websockets
from paradex_py.account.subkey_account import SubkeyAccount
from paradex_py.api.api_client import ParadexApiClient
from paradex_py.common.order import Order, OrderSide, OrderType

from core.types import OrderStatus, Side
from exchanges.paradex.adapter import ParadexVenue
from exchanges.paradex.fake import FakeParadex
from tests.paradex_kit import ADDRESS, KEY, PUBLIC_KEY, hold_still, resting_price, session


def sdk_session(fake: FakeParadex) -> ParadexApiClient:
    """paradex-py's own REST client, signed in to the fake (blocking calls: run in a thread)."""
    api = ParadexApiClient(env="testnet", api_base_url=fake.base_url, retry_strategy=None)
    account = SubkeyAccount(api.fetch_system_config(), l2_private_key=hex(KEY), l2_address=ADDRESS)
    api.init_account(account)
    return api


def order_body(api: ParadexApiClient, price: Decimal, **changes: Any) -> dict[str, Any]:
    o = Order("SOL-USD-PERP", OrderType.Limit, OrderSide.Buy, Decimal("1"), price, client_id=f"w{time.time_ns()}",
              instruction="POST_ONLY", recv_window=5000)
    o.signature = api.account.sign_order(o)  # type: ignore[union-attr]
    return {**o.dump_to_dict(), **changes}


async def post(fake: FakeParadex, api: ParadexApiClient, path: str, body: Any = None, method: str = "POST",
               ) -> httpx.Response:
    async with httpx.AsyncClient(headers={"Authorization": api.client.headers["Authorization"]}) as client:
        return await client.request(method, f"{fake.base_url}{path}", json=body)


async def test_rest_status_codes_and_error_bodies() -> None:
    async with session() as (fake, venue):
        api = await asyncio.to_thread(sdk_session, fake)
        try:
            await check_rest_protocol(fake, venue, api)
        finally:
            api.client.close()


async def check_rest_protocol(fake: FakeParadex, venue: ParadexVenue, api: ParadexApiClient) -> None:
    """Status codes and ``{"error", "message"}`` bodies as the spec gives them."""
    price = await resting_price(venue, Side.BUY)
    created = await post(fake, api, "/orders", order_body(api, price))
    assert created.status_code == 201 and created.json()["status"] == "NEW"  # queued for risk checks
    order_id = created.json()["id"]
    assert (await post(fake, api, f"/orders/{order_id}", method="DELETE")).status_code == 204
    closed = await post(fake, api, f"/orders/{order_id}", method="DELETE")
    assert (closed.status_code, closed.json()["error"]) == (400, "ORDER_IS_CLOSED")
    missing = await post(fake, api, "/orders/42", method="GET")
    assert (missing.status_code, missing.json()["error"]) == (400, "ORDER_ID_NOT_FOUND")

    shapes = {
        "off tick": (order_body(api, price + Decimal("0.0005")), "VALIDATION_ERROR"),
        "unknown market": ({**order_body(api, price), "market": "DOGE-USD-PERP"}, "MARKET_NOT_FOUND"),
        "stale": (order_body(api, price, signature_timestamp=int(time.time() * 1000) - 6000), "INVALID_TIMESTAMP"),
        "tampered": (order_body(api, price, size="2"), "INVALID_ORDER_SIGNATURE"),
    }
    for name, (body, code) in shapes.items():
        r = await post(fake, api, "/orders", body)
        assert (r.status_code, r.json()["error"]) == (400, code), name
        assert set(r.json()) == {"error", "message"}

    cross = await post(fake, api, "/orders", order_body(api, (await venue.bbo("SOL")).ask + Decimal("0.01")))
    assert cross.status_code == 201  # accepted, then closed by the matching engine
    state = (await post(fake, api, f"/orders/{cross.json()['id']}", method="GET")).json()
    assert (state["status"], state["cancel_reason"]) == ("CLOSED", "POST_ONLY_WOULD_CROSS")

    async with httpx.AsyncClient() as anon:
        r = await anon.get(f"{fake.base_url}/positions", headers={"Authorization": "Bearer nope"})
        assert (r.status_code, r.json()["error"]) == (401, "INVALID_TOKEN")
        spec_auth = await anon.post(f"{fake.base_url}/auth", headers=api.account.auth_headers())  # type: ignore[union-attr]
        assert spec_auth.status_code == 200 and spec_auth.json()["jwt_token"].count(".") == 2


async def test_an_unknown_account_is_onboarded_the_way_the_sdk_does_it() -> None:
    fake = FakeParadex()  # nobody registered
    hold_still(fake)
    await fake.start()
    venue = ParadexVenue(fake.settings(l1_address="0x00000000000000000000000000000000000000aa",
                                       l2_private_key=hex(KEY)))  # type: ignore[arg-type]
    try:
        await venue.start()
        auth = [r for r in fake.requests if r.startswith(("POST /v1/auth", "POST /v1/onboarding"))]
        assert auth == [f"POST /v1/auth/{hex(PUBLIC_KEY)}", "POST /v1/onboarding", f"POST /v1/auth/{hex(PUBLIC_KEY)}"]
        assert list(fake.engine.accounts.values()) == [PUBLIC_KEY]
        o = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1"),
                                    client_id="onboarded", post_only=True)
        assert o.status is OrderStatus.OPEN
    finally:
        await venue.close()
        await fake.stop()


async def rpc(ws: Any, method: str, params: dict[str, Any], rid: int) -> dict[str, Any]:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == rid:
            return msg


async def test_websocket_json_rpc_auth_subscribe_and_push_shape() -> None:
    async with session() as (fake, venue), websockets.connect(fake.ws_url) as ws:
        refused = await rpc(ws, "subscribe", {"channel": "fills.ALL"}, 1)
        assert refused["error"]["code"] == 40111  # private channel before auth
        assert (await rpc(ws, "subscribe", {"channel": "bbo.NOPE-USD-PERP"}, 2))["error"]["code"] == -32602
        assert (await rpc(ws, "order.create", {}, 3))["error"]["code"] == -32601
        assert (await rpc(ws, "auth", {"bearer": "x.y.z"}, 4))["error"]["code"] == 40111
        assert "result" in await rpc(ws, "auth", {"bearer": venue._session()[1].jwt_token}, 5)
        ack = await rpc(ws, "subscribe", {"channel": "fills.ALL"}, 6)
        assert ack["result"] == {"channel": "fills.ALL"}
        await venue.place_market("SOL", Side.BUY, Decimal("0.1"), client_id="wire-fill",
                                 max_slippage_bps=Decimal(20))
        push = json.loads(await ws.recv())
        assert push["jsonrpc"] == "2.0" and push["method"] == "subscription" and "id" not in push
        assert push["params"]["channel"] == "fills.ALL"
        data = push["params"]["data"]
        assert (data["client_id"], data["liquidity"], data["market"]) == ("wire-fill", "TAKER", "SOL-USD-PERP")
