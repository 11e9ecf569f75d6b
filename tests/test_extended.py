"""Extended's own quirks, against its fake over the real SDK paths: Stark signatures the fake checks,
the signed taker-fee cap, the signed order expiry and its renewal, asynchronous placement, book
deltas that add to a level, the SDK's stream client on websockets 15, and credentials.

What every venue must do is in tests/test_venue_conformance.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest
from pydantic import SecretStr
from x10.core.stark_account import StarkPerpetualAccount
from x10.models.order import OrderSide
from x10.signing.order_object import create_order_object

from core.clock import RealClock
from core.errors import ConfigError, OrderRejected, VenueError
from core.reasons import Reason
from core.types import OrderStatus, Side
from exchanges.credentials import spellings
from exchanges.extended import wire
from exchanges.extended.adapter import ExtendedVenue
from exchanges.extended.fake import demo_account
from exchanges.extended.settings import ExtendedSettings
from exchanges.extended.stream import Ws15StreamClient
from tests.conformance_kit import SYMBOL, harness, resting_price, until

SIZE = Decimal(1)


async def test_the_fake_verifies_the_stark_signature_and_nothing_rests_on_a_bad_one() -> None:
    async with harness("extended") as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        price = await resting_price(venue, Side.BUY)
        good = await venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="sig-ok", post_only=True)
        assert good.status is OrderStatus.OPEN  # the adapter's SDK-signed order verifies
        market, fee = venue._markets[SYMBOL], venue._instruments[SYMBOL].taker_fee
        signed = venue._sign(market, Side.BUY, price, SIZE, "sig-tampered", fee, market_order=False, post_only=True,
                             reduce_only=False)
        tampered = signed.model_copy(update={"qty": SIZE * 2})  # more than what was signed
        account = demo_account()
        impostor = StarkPerpetualAccount(vault=account.vault, private_key=demo_account("someone else").private_key,
                                         public_key=account.public_key, api_key=account.api_key)
        forged = create_order_object(account=impostor, market=market, amount_of_synthetic=SIZE, price=price,
                                     side=OrderSide.BUY, starknet_domain=venue._config.signing.starknet_domain,  # type: ignore[union-attr]
                                     post_only=True, order_external_id="sig-forged", taker_fee=fee)
        for order in (tampered, forged):
            with pytest.raises(VenueError) as err:
                await venue._call("POST /user/order", lambda r, o=order: r.orders.place_order(o), idempotent=False)
            assert err.value.reason is Reason.INVALID_SIGNATURE
        assert [o.client_id for o in await venue.open_orders(SYMBOL)] == ["sig-ok"]
        assert h.orders_with("sig-tampered") == h.orders_with("sig-forged") == 0


async def test_the_accounts_taker_rate_is_the_signed_fee_cap_and_a_dearer_account_stops_before_any_order() -> None:
    async with harness("extended", fees=("0", "0.0003")) as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        await venue.place_limit(SYMBOL, Side.BUY, await resting_price(venue, Side.BUY), SIZE, client_id="fee-1",
                                post_only=True)
        assert Decimal(h.controls.orders_received[-1]["fee"]) == Decimal("0.0003")  # not the SDK's 0.05% default
        # an order whose signed cap is below the account's rate: the venue refuses it (after its POST)
        cheap = venue._sign(venue._markets[SYMBOL], Side.BUY, await resting_price(venue, Side.BUY), SIZE, "fee-low",
                            Decimal("0.0001"), market_order=False, post_only=True, reduce_only=False)
        with pytest.raises(OrderRejected) as err:
            await venue._accepted(await venue._submit("POST /user/order", cheap, "fee-low", final=False), "fee-low")
        assert "INVALID_FEE" in str(err.value)
    async with harness("extended", fees=("0", "0.0007")) as h:  # 7 bps, above the default 5 bps cap
        with pytest.raises(ConfigError) as cfg:
            await h.venue.place_limit(SYMBOL, Side.BUY, await resting_price(h.venue, Side.BUY), SIZE,
                                      client_id="fee-2", post_only=True)
        assert cfg.value.field == "extended.max_taker_fee_bps" and h.controls.sent("place") == 0


async def test_every_order_carries_the_configured_expiry_and_a_resting_order_expires_visibly() -> None:
    async with harness("extended", order_ttl_s=600.0, renew_before_s=0.0) as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        t0 = time.time()
        o = await venue.place_limit(SYMBOL, Side.BUY, await resting_price(venue, Side.BUY), SIZE, client_id="exp-1",
                                    post_only=True)
        signed_ms = h.controls.orders_received[-1]["expiryEpochMillis"]
        assert t0 + 600 <= signed_ms / 1000 <= time.time() + 601  # ours, not the SDK's one hour
        h.controls.time_shift = 601.0  # the venue's clock passes the expiry
        await until(lambda: not h.exchange.open, within=5.0, what="the order to expire")
        after = await venue.order(SYMBOL, client_id="exp-1")
        assert after is not None and (after.order_id, after.status) == (o.order_id, OrderStatus.EXPIRED)
        assert await venue.open_orders(SYMBOL) == []


async def test_renewal_replaces_a_resting_order_before_it_expires_keeping_its_client_id() -> None:
    async with harness("extended", order_ttl_s=120.0, renew_before_s=100.0) as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        price = await resting_price(venue, Side.SELL)
        first = await venue.place_limit(SYMBOL, Side.SELL, price, SIZE, client_id="rn-1", post_only=True)
        far = await venue.place_limit(SYMBOL, Side.SELL, price, SIZE, client_id="rn-far", post_only=True)
        first_expiry = h.controls.orders_received[-2]["expiryEpochMillis"]
        assert await venue.renew_expiring() == []  # 120 s left > 100 s: nothing due yet
        venue._resting["rn-1"].expires_at -= 30  # as if 30 s had passed for this one
        await asyncio.sleep(1.0)  # so the fresh expiry is later
        renewed = await venue.renew_expiring()
        assert [(o.client_id, o.status) for o in renewed] == [("rn-1", OrderStatus.OPEN)]
        assert renewed[0].order_id != first.order_id and renewed[0].price == price and renewed[0].size == SIZE
        body = h.controls.orders_received[-1]
        assert (body["id"], body["cancelId"]) == ("rn-1~r1", "rn-1") and body["expiryEpochMillis"] > first_expiry
        old = await venue.order(SYMBOL, order_id=first.order_id)
        assert old is not None and old.status is OrderStatus.CANCELLED
        assert {o.order_id for o in await venue.open_orders(SYMBOL)} == {renewed[0].order_id, far.order_id}
        found = await venue.order(SYMBOL, client_id="rn-1")  # the client id finds the replacement
        assert found is not None and found.order_id == renewed[0].order_id
        cancelled = await venue.cancel(SYMBOL, client_id="rn-1")
        assert (cancelled.order_id, cancelled.status) == (renewed[0].order_id, OrderStatus.CANCELLED)


async def test_a_refused_renewal_is_not_hidden_the_old_orders_end_reaches_the_order_stream() -> None:
    async with harness("extended", order_ttl_s=120.0, renew_before_s=100.0) as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        await venue.place_market(SYMBOL, Side.BUY, SIZE, client_id="rr-open", max_slippage_bps=Decimal(50))
        price = await resting_price(venue, Side.SELL)
        o = await venue.place_limit(SYMBOL, Side.SELL, price, SIZE, client_id="rr-1", post_only=True,
                                    reduce_only=True)
        await venue.place_market(SYMBOL, Side.SELL, SIZE, client_id="rr-close", max_slippage_bps=Decimal(50),
                                 reduce_only=True)  # flat: a reduce-only replacement has nothing to reduce
        orders = venue.stream_orders()
        try:
            pending = asyncio.ensure_future(anext(orders))
            await asyncio.sleep(0.5)
            venue._resting["rr-1"].expires_at -= 30
            assert await venue.renew_expiring() == []  # the replacement was refused ...
            assert "rr-1" not in venue._resting
            seen = [await asyncio.wait_for(pending, 5)]
            while not any(x.order_id == o.order_id and x.status is OrderStatus.CANCELLED for x in seen):
                seen.append(await asyncio.wait_for(anext(orders), 5))  # ... so the old order's end is news
        finally:
            await orders.aclose()  # type: ignore[attr-defined]


async def test_placing_is_asynchronous_a_refusal_is_the_orders_status_reason() -> None:
    async with harness("extended") as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        b = await venue.bbo(SYMBOL)
        with pytest.raises(OrderRejected) as err:
            await venue.place_limit(SYMBOL, Side.BUY, b.ask, SIZE, client_id="async-po", post_only=True)
        assert err.value.reason is Reason.POST_ONLY_WOULD_CROSS and "POST_ONLY_FAILED" in str(err.value)
        rows = (await venue._rest.account.get_order_by_external_id("async-po")).data  # type: ignore[union-attr]
        assert [(r.status, r.status_reason) for r in rows] == [("REJECTED", "POST_ONLY_FAILED")]


async def test_the_book_stream_applies_deltas_that_add_to_a_level() -> None:
    async with harness("extended") as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        stream = venue.stream_book(SYMBOL, 10)
        try:
            snapshot = await asyncio.wait_for(anext(stream), 5)
            rest = await venue.book(SYMBOL, 10)
            assert (snapshot.bids, snapshot.asks) == (rest.bids, rest.asks)
            ins = await venue.instrument(SYMBOL)
            inside = snapshot.bids[0].price + ins.tick  # a new level at the top
            level = snapshot.bids[1].price  # an existing one
            # (the simulator publishes a book when its top moves: the deeper order goes first)
            await venue.place_limit(SYMBOL, Side.BUY, level, SIZE, client_id="bk-2", post_only=True)
            await venue.place_limit(SYMBOL, Side.BUY, inside, SIZE, client_id="bk-1", post_only=True)
            want = {inside: SIZE, level: snapshot.bids[1].size + SIZE}
            book = snapshot
            while {p: s for p, s in ((lv.price, lv.size) for lv in book.bids) if p in want} != want:
                book = await asyncio.wait_for(anext(stream), 5)
            await venue.cancel_all(SYMBOL)
            while {lv.price: lv.size for lv in book.bids}.get(level) != snapshot.bids[1].size \
                    or book.bids[0].price == inside:
                book = await asyncio.wait_for(anext(stream), 5)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


async def test_the_sdk_stream_client_runs_on_websockets_15_and_no_secret_reaches_a_log(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="perpflow")  # a flow run earlier in the session leaves it at INFO
    async with harness("extended") as h:
        venue: ExtendedVenue = h.venue  # type: ignore[assignment]
        conn = await Ws15StreamClient(api_url=h.controls.ws_url).subscribe_to_account_updates(venue._api_key)  # type: ignore[arg-type]
        first = await asyncio.wait_for(conn.recv(), 5)  # parsed by the SDK's model
        assert first.type == "ORDER" and first.seq == 1
        await conn.close()
        assert conn.closed
        fills = venue.stream_fills()
        try:
            pending = asyncio.ensure_future(anext(fills))
            await asyncio.sleep(0.5)
            o = await venue.place_market(SYMBOL, Side.BUY, SIZE, client_id="ws-1", max_slippage_bps=Decimal(50))
            fill = await asyncio.wait_for(pending, 5)
            assert (fill.client_id, fill.order_id) == ("ws-1", o.order_id)
        finally:
            await fills.aclose()  # type: ignore[attr-defined]
        secrets = {s for secret in h.secrets for s in spellings(secret)}
    handshakes = [r for r in caplog.records if r.name == "perpflow.extended.websockets"]
    assert handshakes, "websockets logged nothing at DEBUG: the check below would prove nothing"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "X-Api-Key" in text or "x-api-key" in text.lower()  # the header was logged, its value redacted
    assert not [s[:6] for s in secrets if s in text]


async def test_credentials_missing_or_malformed_stop_before_connecting_naming_the_setting() -> None:
    account = demo_account()
    good = {"endpoint": "http://127.0.0.1:9/api/v1", "ws_endpoint": "ws://127.0.0.1:9/x",
            "api_key": SecretStr(account.api_key), "stark_private_key": SecretStr(account.private_key),
            "stark_public_key": account.public_key, "vault_id": str(account.vault)}
    for missing in ("api_key", "stark_private_key", "stark_public_key", "vault_id"):
        with pytest.raises(ConfigError) as err:
            ExtendedVenue.check_settings(ExtendedSettings(**{**good, missing: None}))
        assert err.value.field == f"extended.{missing}"
    bad = {"stark_public_key": demo_account("other").public_key, "vault_id": "vault-7",
           "stark_private_key": SecretStr("0xnothex")}
    for field, value in bad.items():
        venue = ExtendedVenue(ExtendedSettings(**{**good, field: value}), clock=RealClock())
        try:
            with pytest.raises(ConfigError) as err:
                await venue.start()  # the endpoint is a closed port: a connection would fail otherwise
            assert err.value.field == f"extended.{field}" and account.private_key not in str(err.value)
        finally:
            await venue.close()
    assert wire.client_of(wire.external_id("c-1", 3)) == "c-1" and wire.client_of("c~rx") == "c~rx"

