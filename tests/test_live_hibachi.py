"""Hibachi's adapter against its protocol fake, for what is Hibachi's own: the fake's checks of
signatures, fee caps and nonces; an exchange-managed (HMAC) account trading end to end; maker or
taker read from the fee; the book stream; the account stream's listen key; credentials refused
before anything connects."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
import websockets
from pydantic import SecretStr

from core.clock import RealClock
from core.errors import ConfigError, StreamDisconnected
from core.types import Liquidity, OrderStatus, Side
from exchanges.hibachi import wire
from exchanges.hibachi.adapter import HibachiVenue
from exchanges.hibachi.fake import FakeHibachi, demo_account
from exchanges.hibachi.settings import HibachiSettings
from exchanges.hibachi.stream import AccountFeed
from tests.conformance_kit import SYMBOL, _world, harness, resting_price

FEES = ("-0.00004", "0.00031")


async def test_the_fake_refuses_bad_signatures_keys_fee_caps_and_reused_nonces() -> None:
    async with harness("hibachi") as h:
        venue: HibachiVenue = h.venue  # type: ignore[assignment]
        c = await venue._contract(SYMBOL)
        price = await resting_price(venue, Side.BUY)
        cap = max(await venue._fee_rates())

        def order(nonce: int, **change: object) -> dict[str, object]:
            body: dict[str, object] = {
                "accountId": venue._account, "symbol": c.symbol, "nonce": nonce, "orderType": "LIMIT",
                "side": "BID", "quantity": "1", "price": wire.text(price), "maxFeesPercent": wire.text(cap),
                "orderFlags": "POST_ONLY",
                "signature": venue._sign(wire.order_payload(c, nonce, Side.BUY, Decimal(1), price, cap))}
            return body | change

        key = {"Authorization": venue._api_key or ""}
        async with httpx.AsyncClient(base_url=h.controls.base_url) as client:
            ok = await client.post("/trade/order", json=order(1), headers=key)
            assert ok.status_code == 200 and set(ok.json()) == {"orderId"}  # the id only: read it back
            tampered = await client.post("/trade/order", json=order(2, quantity="2"), headers=key)
            assert tampered.status_code == 400 and tampered.json()["errorCode"] == 2
            low = wire.text(cap / 2)
            capped = order(3, maxFeesPercent=low,
                           signature=venue._sign(wire.order_payload(c, 3, Side.BUY, Decimal(1), price, Decimal(low))))
            refused = await client.post("/trade/order", json=capped, headers=key)
            assert refused.status_code == 400 and "maxFeesPercent" in refused.json()["message"]
            again = await client.post("/trade/order", json=order(1), headers=key)
            assert again.status_code == 400 and "Duplicate nonce" in again.json()["message"]
            stranger = await client.post("/trade/order", json=order(4), headers={"Authorization": "nope"})
            assert stranger.status_code == 401
            other = await client.get("/trade/orders", params={"accountId": 999}, headers=key)
            assert other.status_code == 400 and other.json()["errorCode"] == 4
        assert len(h.exchange.orders) == 1  # only the signed, capped, fresh order reached the engine


async def test_an_exchange_managed_hmac_account_trades_and_fills_read_maker_or_taker_from_the_fee() -> None:
    world = _world("hibachi", FEES)
    account = demo_account("hmac trader", hmac_key=True, account_id=77)
    fake = FakeHibachi(world, accounts=(account,))
    await fake.start()
    venue = HibachiVenue(HibachiSettings(endpoint=fake.base_url, data_endpoint=fake.base_url,
                                         api_key=SecretStr(account.api_key), private_key=SecretStr(account.private_key),
                                         account_id="77"), clock=RealClock())
    try:
        t0 = venue.clock.now() - 1
        taken = await venue.place_market(SYMBOL, Side.BUY, Decimal(1), client_id="hm-take",
                                         max_slippage_bps=Decimal(50))
        assert taken.filled == 1 and taken.avg_price is not None
        b, ins = await venue.bbo(SYMBOL), await venue.instrument(SYMBOL)
        ask = b.ask - ins.tick if b.ask - b.bid > ins.tick else b.ask  # first in the queue
        rest = await venue.place_limit(SYMBOL, Side.SELL, ask, Decimal(1), client_id="hm-make", post_only=True)
        assert rest.status is OrderStatus.OPEN
        ex, slot = world.exchanges["hibachi"], world.exchanges["hibachi"].slots[SYMBOL]
        for _ in range(50):  # someone lifts the offers, ours among them
            slot.market.flow_trade(world.clock.now(), 1, int(Decimal(5) / slot.lot))
            world.sync()
            ex.step(world.clock.now(), 0.0)
            now = await venue.order(SYMBOL, client_id="hm-make")
            if now is not None and now.status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.05)
        assert now is not None and now.status is OrderStatus.FILLED
        fills = await venue.fills(t0, SYMBOL)
        kinds = {f.client_id: f.liquidity for f in fills}
        assert kinds == {"hm-take": Liquidity.TAKER, "hm-make": Liquidity.MAKER}
        assert all(f.fee < 0 for f in fills if f.liquidity is Liquidity.MAKER)  # the rebate read as maker
        truth = {f.trade_id: f.liquidity for f in ex.fill_log}
        assert sorted(truth.values()) == sorted(f.liquidity for f in fills)  # what the engine itself recorded
    finally:
        await venue.close()
        await fake.stop()
        await world.stop()


async def test_the_book_stream_keeps_a_local_book_from_snapshot_and_updates() -> None:
    async with harness("hibachi") as h:
        book_stream, bbo_stream = h.venue.stream_book(SYMBOL, 5), h.venue.stream_bbo(SYMBOL)
        try:
            first = await asyncio.wait_for(anext(book_stream), 5)
            assert len(first.bids) == len(first.asks) == 5 and first.bids[0].price < first.asks[0].price
            rest = await resting_price(h.venue, Side.BUY, bps=1)
            ins = await h.venue.instrument(SYMBOL)
            inside = (first.bids[0].price + ins.tick) if first.asks[0].price - first.bids[0].price > ins.tick else rest
            await h.venue.place_limit(SYMBOL, Side.BUY, inside, Decimal(3), client_id="bk-1", post_only=True)
            for _ in range(50):  # the update carrying our bid arrives
                got = await asyncio.wait_for(anext(book_stream), 5)
                if got.bids[0].price == inside:
                    break
            assert got.bids[0].price == inside and got.bids[0].size >= 3
            bbo = await asyncio.wait_for(anext(bbo_stream), 5)
            assert bbo.bid <= inside < bbo.ask
        finally:
            await book_stream.aclose()  # type: ignore[attr-defined]
            await bbo_stream.aclose()  # type: ignore[attr-defined]


async def test_an_account_stream_whose_listen_key_is_not_pinged_is_closed() -> None:
    async with harness("hibachi") as h:
        fake: FakeHibachi = h.controls
        fake.listen_ttl_s = 0.4
        venue: HibachiVenue = h.venue  # type: ignore[assignment]
        url = fake.ws_url + "/ws/account"

        def parse(msg: dict[str, object]) -> list[object]:
            return [msg] if msg.get("topic") else []

        quiet = AccountFeed(url, venue._account, lambda: venue._api_key or "", parse, ping_s=60)
        pinging = AccountFeed(url, venue._account, lambda: venue._api_key or "", parse, ping_s=0.1)
        await quiet.connect()
        await pinging.connect()
        assert quiet.listen_key and quiet.listen_key.startswith(f"{venue._account}-")
        try:
            with pytest.raises(StreamDisconnected):
                await asyncio.wait_for(anext(quiet), 3)  # expired: the venue closed it
            await venue.place_market(SYMBOL, Side.BUY, Decimal(1), client_id="lk-1", max_slippage_bps=Decimal(50))
            topics = set()
            while "trade_update" not in topics:
                topics.add((await asyncio.wait_for(anext(pinging), 3))["topic"])  # type: ignore[index]
            assert topics & {"ORDER_CREATED", "ORDER_UPDATED"}  # the order's event came on the same stream
        finally:
            await quiet.aclose()
            await pinging.aclose()
        with pytest.raises(websockets.InvalidStatus):  # no API key: refused at the handshake
            async with websockets.connect(f"{url}?accountId={venue._account}") as ws:
                await ws.send(json.dumps({"id": 1, "method": "stream.start", "params": {}}))


@pytest.mark.parametrize(("change", "field"), [
    ({"api_key": None}, "hibachi.api_key"), ({"private_key": None}, "hibachi.private_key"),
    ({"account_id": "acct-7"}, "hibachi.account_id"), ({"private_key": SecretStr("0xabc")}, "hibachi.private_key"),
    ({"private_key": SecretStr("too short")}, "hibachi.private_key")])
async def test_a_missing_or_malformed_credential_stops_before_anything_connects(change: dict[str, object],
                                                                               field: str) -> None:
    world = _world("hibachi", None)
    account = demo_account()
    fake = FakeHibachi(world, accounts=(account,))
    await fake.start()
    good = HibachiSettings(endpoint=fake.base_url, data_endpoint=fake.base_url, api_key=SecretStr(account.api_key),
                           private_key=SecretStr(account.private_key), account_id=str(account.account_id))
    try:
        venue = HibachiVenue(good.model_copy(update=change))
        with pytest.raises(ConfigError) as err:
            await venue.start()
        assert str(err.value).startswith(f"{field}:")
        assert account.private_key[2:12] not in str(err.value) and "0xabc" not in str(err.value)
        assert not fake.server.requests  # nothing reached the venue
    finally:
        await fake.stop()
        await world.stop()


async def test_a_post_only_order_is_acknowledged_by_its_post_alone_and_a_lost_answer_is_still_looked_up() -> None:
    async with harness("hibachi") as h:
        server = h.controls.server
        price = await resting_price(h.venue, Side.BUY)
        before = server.count("GET /trade/order")
        o = await h.venue.place_limit(SYMBOL, Side.BUY, price, Decimal(1), client_id="ack-1", post_only=True)
        assert server.count("GET /trade/order") == before  # one round trip: no read-back
        read = await h.venue.order(SYMBOL, order_id=o.order_id)
        assert read is not None
        assert (o.order_id, o.client_id, o.status, o.price, o.size, o.filled, o.post_only) == \
               (read.order_id, "ack-1", OrderStatus.OPEN, read.price, read.size, 0, True) == \
               (read.order_id, read.client_id, read.status, price, Decimal(1), read.filled, read.post_only)
        # an order that may fill as it is placed (no post-only flag) is still read back for its state
        ioc = await h.venue.place_market(SYMBOL, Side.BUY, Decimal(1), client_id="ack-ioc",
                                         max_slippage_bps=Decimal(50))
        assert ioc.status.is_final and ioc.filled > 0
        assert server.count("GET /trade/order") > before + 1
        # the POST's answer lost after the order landed: looked up by its nonce, not sent again
        h.controls.fail("server_error_after", "place")
        lost = await h.venue.place_limit(SYMBOL, Side.BUY, price, Decimal(1), client_id="ack-2", post_only=True)
        assert lost.status is OrderStatus.OPEN and lost.client_id == "ack-2"
        assert h.controls.sent("place") == 3 and len([x for x in h.exchange.orders.values()
                                                      if x.client_id == str(wire.nonce_of("ack-2"))]) == 1
