"""grvt-pysdk's WebSocket client on websockets 15 (adapted in exchanges/grvt/stream.py)."""

from __future__ import annotations

import asyncio
import importlib.metadata

from pysdk.grvt_ccxt_env import GrvtWSEndpointType

from exchanges.grvt.stream import LegacyConnection
from tests.grvt_kit import collect, grvt_env, subscribed, wait_until


def test_the_environment_runs_websockets_15() -> None:
    assert importlib.metadata.version("websockets").startswith("15.")


async def test_sdk_connections_are_websockets_15_with_the_legacy_open_property() -> None:
    async with grvt_env() as (fake, venue):
        stream = venue.stream_positions()
        task = asyncio.get_running_loop().create_task(collect(stream, []))
        await wait_until(lambda: subscribed(fake, "v1.position"))
        client = await venue.client()
        ws = client.ws[GrvtWSEndpointType.TRADE_DATA]
        assert isinstance(ws, LegacyConnection) and ws.open and client.is_connection_open(GrvtWSEndpointType.TRADE_DATA)
        # the handshake carried the session cookie (additional_headers): the venue knows the account
        assert all(c.account is not None for c in fake.streams.connections if c.pumps)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await ws.close()
        assert not ws.open and not client.is_connection_open(GrvtWSEndpointType.TRADE_DATA)


async def test_only_the_legacy_endpoints_are_used() -> None:
    async with grvt_env() as (fake, venue):
        stream = venue.stream_bbo("ETH")
        await anext(stream)
        client = await venue.client()
        assert client.ws[GrvtWSEndpointType.MARKET_DATA_RPC_FULL] is None
        assert client.api_url[GrvtWSEndpointType.MARKET_DATA] == fake.ws_url  # pointed at the fake
        assert fake.requests["ws"] == 2  # market data and trade data, once each
        await stream.aclose()
