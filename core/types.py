"""Domain types shared by every layer.

Prices, sizes and fees are ``Decimal`` on every order path: a float rounding error on a tick
boundary is an off-tick reject or a wrong hedge size. Sizes are in base units (SOL, ETH);
positions are signed (long > 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def of_delta(cls, delta: Decimal) -> Side:
        """The side that moves a position by ``delta`` (positive = buy)."""
        return cls.BUY if delta > 0 else cls.SELL


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class OrderStatus(StrEnum):
    NEW = "NEW"  # sent, not yet acknowledged
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class PriceMode(StrEnum):
    """How a bot prices an order relative to the book (shared by every bot)."""

    BBO = "bbo"  # join the best price on our side
    BBO_MINUS_1 = "bbo_minus_1"  # one tick behind best: buy at best bid - tick
    BBO_PLUS_1 = "bbo_plus_1"  # one tick inside the spread when it is wider than a tick
    MARKET = "market"  # IOC taker with a slippage cap


@dataclass(frozen=True, slots=True)
class Instrument:
    """A venue's market, with everything needed to validate an order before sending it."""

    venue: str
    symbol: str  # the user's short name: SOL, ETH
    venue_symbol: str  # SOL-USD-PERP, SOL_USDT_Perp, ...
    tick: Decimal
    lot: Decimal  # size step
    min_size: Decimal
    min_notional: Decimal
    max_order_size: Decimal | None
    maker_fee: Decimal  # fraction of notional; negative = rebate
    taker_fee: Decimal
    # Paradex: "a reduce-only order below the minimum order value is allowed if it matches the size
    # of an offsetting position" - without it a partial fill's remainder below the minimum could
    # never be closed there. Venues that publish no such exception keep False.
    closes_below_min_notional: bool = False

    def below_min_notional(self, size: Decimal, price: Decimal, *, reduce_only: bool = False,
                           position: Decimal = Decimal(0)) -> bool:
        """Would the venue refuse this order for its value? An order that closes the whole
        ``position`` reduce-only is exempt where the venue says so (``closes_below_min_notional``)."""
        if size * price >= self.min_notional:
            return False
        return not (self.closes_below_min_notional and reduce_only and position != 0 and size == abs(position))

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round to the tick, never more aggressive than asked (bids down, asks up)."""
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        return (price / self.tick).to_integral_value(rounding=rounding) * self.tick

    def round_size(self, size: Decimal) -> Decimal:
        """Round a size down to the venue's step."""
        return (size / self.lot).to_integral_value(rounding=ROUND_DOWN) * self.lot

    def on_tick(self, price: Decimal) -> bool:
        return price > 0 and (price / self.tick) == (price / self.tick).to_integral_value()

    def on_lot(self, size: Decimal) -> bool:
        return size > 0 and (size / self.lot) == (size / self.lot).to_integral_value()

    def fee(self, notional: Decimal, liquidity: Liquidity) -> Decimal:
        rate = self.maker_fee if liquidity is Liquidity.MAKER else self.taker_fee
        return notional * rate


@dataclass(frozen=True, slots=True)
class BBO:
    venue: str
    symbol: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    ts: float  # venue timestamp, epoch seconds

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    @property
    def spread_bps(self) -> Decimal:
        return self.spread / self.mid * 10_000

    def best(self, side: Side) -> Decimal:
        """Best price on ``side``'s own side of the book (bid for a buyer)."""
        return self.bid if side is Side.BUY else self.ask

    def opposite(self, side: Side) -> Decimal:
        """The price ``side`` would take as a taker (ask for a buyer)."""
        return self.ask if side is Side.BUY else self.bid


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class Book:
    venue: str
    symbol: str
    bids: tuple[BookLevel, ...]  # best first
    asks: tuple[BookLevel, ...]
    ts: float

    def bbo(self) -> BBO:
        return BBO(self.venue, self.symbol, self.bids[0].price, self.bids[0].size,
                   self.asks[0].price, self.asks[0].size, self.ts)

    def depth(self, side: Side, within_bps: Decimal) -> Decimal:
        """Displayed size a taker on ``side`` sees within ``within_bps`` of the touch."""
        levels = self.asks if side is Side.BUY else self.bids
        if not levels:
            return ZERO
        limit = levels[0].price * (1 + side.sign * within_bps / 10_000)
        return sum((lv.size for lv in levels if (lv.price - limit) * side.sign <= 0), ZERO)


@dataclass(frozen=True, slots=True)
class Order:
    venue: str
    order_id: str
    client_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None  # None for a market order
    size: Decimal
    filled: Decimal = ZERO
    avg_price: Decimal | None = None
    status: OrderStatus = OrderStatus.NEW
    post_only: bool = False
    reduce_only: bool = False
    ts: float = 0.0
    reject_reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    def evolve(self, **changes: object) -> Order:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. Its price and fee are the truth for PnL, never a pre-trade quote."""

    venue: str
    order_id: str
    client_id: str
    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal  # quote currency; negative = rebate
    liquidity: Liquidity
    ts: float
    bid: Decimal | None = None  # best bid/ask when the fill happened, for adverse-selection analysis
    ask: Decimal | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.venue, self.order_id, self.trade_id)

    @property
    def signed_size(self) -> Decimal:
        return self.size * self.side.sign

    @property
    def notional(self) -> Decimal:
        return self.price * self.size


@dataclass(frozen=True, slots=True)
class Position:
    venue: str
    symbol: str
    size: Decimal  # signed: long > 0
    entry_price: Decimal | None
    ts: float
    source: str = "rest"  # ws | rest | ledger
    mark: Decimal | None = None  # the mid price the bot marked this position at (final positions)


@dataclass(frozen=True, slots=True)
class Balance:
    venue: str
    currency: str
    equity: Decimal
    available: Decimal  # free margin for new orders
    ts: float


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade print (anyone's), used to estimate what a venue really executes."""

    venue: str
    symbol: str
    price: Decimal
    size: Decimal
    taker_side: Side
    ts: float


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A perpetual's current funding rate, as its venue publishes it.

    ``rate`` is the fraction of notional a long pays per ``interval_s`` (negative: shorts pay
    longs). Venues settle on different intervals (1 h, 8 h), so compare them with ``hourly``.
    """

    venue: str
    symbol: str
    rate: Decimal
    interval_s: float
    next_ts: float | None  # epoch seconds of the next settlement, when the venue says
    ts: float  # when the venue published (or we read) this rate

    @property
    def hourly(self) -> Decimal:
        return self.rate * Decimal(3600) / Decimal(str(self.interval_s))


@dataclass(slots=True)
class FillDeduper:
    """Remembers trade ids so a fill seen on a stream and again in a REST catch-up counts once."""

    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def first_time(self, fill: Fill) -> bool:
        if fill.key in self.seen:
            return False
        self.seen.add(fill.key)
        return True
