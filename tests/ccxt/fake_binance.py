"""A fake Binance spot REST API, mounted as a `requests` transport on a real CCXT client: nothing leaves the process.

CCXT's whole path runs (signing, URL and body building, response parsing, handle_errors); only the socket is
replaced. The fake checks what Binance checks (API key, HMAC signature, PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL,
MARKET_LOT_SIZE, PERCENT_PRICE(_BY_SIDE) around its current price, MAX_NUM_ORDERS, MAX_POSITION, balances, duplicate
client ids) and answers with bodies built from the documented formats recorded in
tests/fixtures/binance/. It keeps a small book: limit orders rest as NEW and fill when `set_price` crosses them.
Faults are scripted per endpoint: a canned error answer, or a read timeout before or after the request took effect.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tests.transactions import open_transaction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
FEE = Decimal("0.001")
D = Decimal


def fixture(name: str) -> Any:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def klines_from_dump(path: Path) -> list[list[Any]]:
    """The rows of a Binance data-dump CSV as GET /api/v3/klines gives them: the same twelve columns, the times and
    the trade count as numbers, every other value as the string the file holds."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split(",")
        rows.append([int(f[0]), *f[1:6], int(f[6]), f[7], int(f[8]), *f[9:12]])
    return rows


def exchange_info_from_filters(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A Binance exchangeInfo body rebuilt from the compact extract of every TRADING symbol's filters."""
    symbols = []
    for row in doc["symbols"]:
        column = dict(zip(doc["columns"], row, strict=True))
        filters: dict[str, dict[str, Any]] = {}
        for name, value in column.items():
            kind, _, key = name.partition(".")
            if key and value is not None:
                filters.setdefault(kind, {"filterType": kind})[key] = value
        filters["MIN_NOTIONAL"].update(applyToMarket=True, avgPriceMins=5)
        symbol, base, quote = column["symbol"], column["baseAsset"], column["quoteAsset"]
        symbols.append(
            {
                "symbol": symbol,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": list(filters.values()),
                "permissions": ["SPOT"],
            }
        )
    return {
        "timezone": "UTC",
        "serverTime": 1633998511098,
        "rateLimits": doc["rateLimits"],
        "exchangeFilters": [],
        "symbols": symbols,
    }


def filter_failure(
    filters: Mapping[str, Mapping[str, Any]],
    price: Decimal | None,
    qty: Decimal,
    *,
    side: str = "BUY",
    average: Decimal | None = None,
    open_orders: int = 0,
    position: Decimal = Decimal(0),
) -> str | None:
    """Binance's own filter rules, written from its documentation, independent of the code under test.

    `price` None is a market order; `average` the symbol's average price (PERCENT_PRICE's weightedAveragePrice,
    and a market order's notional), `open_orders` the account's open orders on the symbol, `position` its base
    position (free + locked + open buys) for MAX_POSITION."""
    pf, lot, notional = filters["PRICE_FILTER"], filters["LOT_SIZE"], filters["MIN_NOTIONAL"]
    if price is not None:
        tick, low, high = D(pf["tickSize"]), D(pf["minPrice"]), D(pf["maxPrice"])
        if price < low or (high and price > high) or (tick and (price - low) % tick):
            return "PRICE_FILTER"
        percent = filters.get("PERCENT_PRICE")
        if (
            percent is not None
            and average is not None
            and (price > average * D(percent["multiplierUp"]) or price < average * D(percent["multiplierDown"]))
        ):
            return "PERCENT_PRICE"
        by_side = filters.get("PERCENT_PRICE_BY_SIDE")
        if by_side is not None and average is not None:
            prefix = "bid" if side == "BUY" else "ask"
            up, down = D(by_side[f"{prefix}MultiplierUp"]), D(by_side[f"{prefix}MultiplierDown"])
            if price > average * up or price < average * down:
                return "PERCENT_PRICE_BY_SIDE"
    step, low, high = D(lot["stepSize"]), D(lot["minQty"]), D(lot["maxQty"])
    if qty < low or qty > high or (step and (qty - low) % step):
        return "LOT_SIZE"
    market = filters.get("MARKET_LOT_SIZE")
    if price is None and market is not None:
        step, low, high = D(market["stepSize"]), D(market["minQty"]), D(market["maxQty"])
        if qty < low or (high and qty > high) or (step and (qty - low) % step):
            return "MARKET_LOT_SIZE"
    worth = price if price is not None else average
    if worth is not None and worth * qty < D(notional["minNotional"]):
        return "MIN_NOTIONAL"
    cap = filters.get("MAX_NUM_ORDERS")
    if cap is not None and open_orders >= int(cap["maxNumOrders"]):
        return "MAX_NUM_ORDERS"
    most = filters.get("MAX_POSITION")
    if most is not None and side == "BUY" and position + qty > D(most["maxPosition"]):
        return "MAX_POSITION"
    return None


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Timeout:
    after: bool  # True: the request took effect, then the answer was lost


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str]
    api_key: str | None
    host: str = ""


class FakeBinance(BaseAdapter):
    def __init__(
        self,
        *,
        exchange_info: Mapping[str, Any] | None = None,
        balances: Mapping[str, str] | None = None,
        prices: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.exchange_info = dict(exchange_info or fixture("exchangeInfo.json"))
        self.filters = {s["symbol"]: {f["filterType"]: f for f in s["filters"]} for s in self.exchange_info["symbols"]}
        self.symbols = {s["symbol"]: s for s in self.exchange_info["symbols"]}
        self.balances = {a: [D(v), D(0)] for a, v in (balances or {"USDT": "10000", "BTC": "0.01"}).items()}
        self.prices = {s: D(p) for s, p in (prices or {"BTCUSDT": "30000"}).items()}
        self.orders: dict[str, dict[str, Any]] = {}  # by clientOrderId
        self.trades: list[dict[str, Any]] = []
        self.next_order_id = 1000
        self.next_trade_id = 5000
        self.now_ms = 1651708800000  # 2022-05-05
        self.scripted: dict[tuple[str, str], deque[Reply | Timeout | None]] = {}
        self.requests: list[Sent] = []
        self.sent_in_transaction: list[str] = []  # requests made while holding a database transaction: a bug
        self.hidden_lookups = 0  # the next N lookups by client id answer -2013, as a lagging replica would
        self.api_restrictions = fixture("api_restrictions.json")
        self.klines: dict[tuple[str, str], list[list[Any]]] = {}  # (symbol, interval) → rows served by /klines

    # --- test controls ---
    def script(self, method: str, path: str, *answers: Reply | Timeout | None) -> None:
        """The next requests to `method path` get these answers in turn (None: the usual answer), then the usual."""
        self.scripted.setdefault((method, path), deque()).extend(answers)

    def error(self, name: str, headers: dict[str, str] | None = None) -> Reply:
        recorded = fixture("errors.json")[name]
        return Reply(recorded["status"], recorded["body"], headers or {})

    def list_market(
        self, symbol: str, base: str, quote: str, changes: Mapping[str, Mapping[str, Any]], *, like: str = "BTCUSDT"
    ) -> None:
        """List a market of the recorded `like`'s filters with `changes` (filter type → fields) applied: a symbol,
        or rules, the shipped Binance markets do not have. Before the first client loads the markets."""
        entry = copy.deepcopy(self.symbols[like])
        entry.update(symbol=symbol, baseAsset=base, quoteAsset=quote)
        for kind, fields in changes.items():
            next(f for f in entry["filters"] if f["filterType"] == kind).update(fields)
        others = [s for s in self.exchange_info["symbols"] if s["symbol"] != symbol]
        self.exchange_info["symbols"] = [*others, entry]
        self.symbols[symbol] = entry
        self.filters[symbol] = {f["filterType"]: f for f in entry["filters"]}

    def sent(self, method: str, path: str) -> list[Sent]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def set_price(self, symbol: str, price: str) -> None:
        self.now_ms += 1000
        self.prices[symbol] = D(price)
        for order in list(self.orders.values()):
            if order["symbol"] != symbol or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                continue
            limit = D(order["price"])
            if (order["side"] == "BUY" and D(price) <= limit) or (order["side"] == "SELL" and D(price) >= limit):
                self._fill(order, limit, maker=True)

    # --- transport ---
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(str(request.url))
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        query = url.query or body
        params = dict(parse_qsl(query, keep_blank_values=True))
        method = str(request.method)
        self.check_no_transaction(method, url.path)
        self.requests.append(Sent(method, url.path, params, request.headers.get("X-MBX-APIKEY"), url.netloc))
        answers = self.scripted.get((method, url.path))
        answer = answers.popleft() if answers else None
        if isinstance(answer, Reply):
            return self._response(request, answer)
        if isinstance(answer, Timeout) and not answer.after:
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=10)")
        if "signature" in params:
            refused = self._check_signature(request, query)
            reply = refused or self._route(method, url.path, params)
        else:
            reply = self._route(method, url.path, params)
        if isinstance(answer, Timeout):
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=10)")
        return self._response(request, reply)

    def check_no_transaction(self, method: str, path: str) -> None:
        held = open_transaction()
        if held is not None:
            self.sent_in_transaction.append(f"{method} {path}")
            raise AssertionError(f"{method} {path} sent while a transaction on database {held!r} is open")

    def close(self) -> None:
        pass

    def _response(self, request: requests.PreparedRequest, reply: Reply) -> requests.Response:
        response = requests.Response()
        response.status_code = reply.status
        response.reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 418: "I'm a teapot"}.get(
            reply.status, "Too Many Requests" if reply.status == 429 else "Error"
        )
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json;charset=UTF-8", **reply.headers})
        response._content = json.dumps(reply.body).encode()
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    def _check_signature(self, request: requests.PreparedRequest, query: str) -> Reply | None:
        if request.headers.get("X-MBX-APIKEY") != API_KEY:
            return self.error("key_rejected")
        payload, _, signature = query.rpartition("&signature=")
        expected = hmac.new(API_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self.error("signature")
        return None

    # --- the API ---
    def _route(self, method: str, path: str, p: dict[str, str]) -> Reply:
        route = {
            ("GET", "/api/v3/exchangeInfo"): lambda: Reply(200, self.exchange_info),
            ("GET", "/api/v3/time"): lambda: Reply(200, {"serverTime": self.now_ms}),
            ("GET", "/api/v3/ticker/24hr"): lambda: self._ticker(p),
            ("GET", "/api/v3/klines"): lambda: self._klines(p),
            ("GET", "/api/v3/account"): self._account,
            ("POST", "/api/v3/order"): lambda: self._new_order(p),
            ("GET", "/api/v3/order"): lambda: self._get_order(p),
            ("DELETE", "/api/v3/order"): lambda: self._cancel(p),
            ("GET", "/api/v3/openOrders"): lambda: Reply(200, [self._view(o) for o in self._open(p.get("symbol"))]),
            ("GET", "/api/v3/myTrades"): lambda: self._my_trades(p),
            ("GET", "/sapi/v1/account/apiRestrictions"): lambda: Reply(200, self.api_restrictions),
        }.get((method, path))
        if route is None:
            return Reply(404, {"code": -1000, "msg": f"fake Binance has no {method} {path}"})
        return route()

    def _ticker(self, p: dict[str, str]) -> Reply:
        if "symbols" in p:  # many tickers in one request: a JSON list of symbols
            return Reply(200, [self._ticker({"symbol": symbol}).body for symbol in json.loads(p["symbols"])])
        body = fixture("ticker_24hr.json")
        price = format(self.prices[p["symbol"]], "f")
        body.update(symbol=p["symbol"], lastPrice=price, bidPrice=price, askPrice=price, closeTime=self.now_ms)
        return Reply(200, body)

    def _klines(self, p: dict[str, str]) -> Reply:
        """Binance's klines answer: at most `limit` (default 500, at most 1000) candles opening from startTime on,
        oldest first, up to endTime; without startTime the latest ones up to endTime. From `self.klines` when the
        test put rows there, else the recorded klines of the symbol and interval."""
        rows = self.klines.get((p["symbol"], p["interval"]))
        if rows is None:
            try:
                rows = fixture(f"klines_{p['symbol']}_{p['interval']}.json")
            except FileNotFoundError:
                return Reply(400, {"code": -1121, "msg": "Invalid symbol."})
        limit = min(int(p.get("limit", 500)), 1000)
        end = int(p.get("endTime", 2**63))
        rows = [r for r in rows if r[0] <= end]
        if "startTime" in p:
            start = int(p["startTime"])
            return Reply(200, [r for r in rows if r[0] >= start][:limit])
        return Reply(200, rows[-limit:])

    def _account(self) -> Reply:
        body = fixture("account.json")
        body["balances"] = [
            {"asset": a, "free": format(free, "f"), "locked": format(locked, "f")}
            for a, (free, locked) in sorted(self.balances.items())
        ] + [{"asset": "LTC", "free": "0.00000000", "locked": "0.00000000"}]
        return Reply(200, body)

    def _open(self, symbol: str | None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.orders.values()
            if o["status"] in ("NEW", "PARTIALLY_FILLED") and (symbol is None or o["symbol"] == symbol)
        ]

    def _new_order(self, p: dict[str, str]) -> Reply:
        symbol, side, kind = p["symbol"], p["side"], p["type"]
        cid = p.get("newClientOrderId") or f"x-{self.next_order_id}"
        if cid in self.orders and self.orders[cid]["status"] in ("NEW", "PARTIALLY_FILLED"):
            return self.error("duplicate_order")
        qty = D(p["quantity"])
        price = D(p["price"]) if "price" in p else None
        info = self.symbols[symbol]
        base, quote = info["baseAsset"], info["quoteAsset"]
        mine = self._open(symbol)
        held = self.balances.get(base, [D(0), D(0)])
        failure = filter_failure(
            self.filters[symbol],
            price,
            qty,
            side=side,
            average=self.prices.get(symbol),
            open_orders=len(mine),
            position=held[0]
            + held[1]
            + sum((D(o["origQty"]) - D(o["executedQty"]) for o in mine if o["side"] == "BUY"), D(0)),
        )
        if failure:
            return Reply(400, {"code": -1013, "msg": f"Filter failure: {failure}"})
        reserve_asset, need = (quote, (price or self.prices[symbol]) * qty) if side == "BUY" else (base, qty)
        held = self.balances.setdefault(reserve_asset, [D(0), D(0)])
        if held[0] < need:
            return self.error("insufficient_balance")
        held[0] -= need
        held[1] += need
        order = {
            "symbol": symbol,
            "orderId": self.next_order_id,
            "clientOrderId": cid,
            "price": format(price or D(0), "f"),
            "origQty": format(qty, "f"),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "type": kind,
            "side": side,
            "time": self.now_ms,
            "updateTime": self.now_ms,
            "reserved": need,
            "fills": [],
        }
        self.next_order_id += 1
        self.orders[cid] = order
        market = self.prices[symbol]
        if price is None or (side == "BUY" and price >= market) or (side == "SELL" and price <= market):
            self._fill(order, market, maker=False)
        body = fixture("order_full.json")
        body.update(self._view(order))
        body.update(transactTime=self.now_ms, fills=order["fills"])
        return Reply(200, body)

    def _fill(self, order: dict[str, Any], price: Decimal, *, maker: bool) -> None:
        info = self.symbols[order["symbol"]]
        base, quote = info["baseAsset"], info["quoteAsset"]
        qty = D(order["origQty"]) - D(order["executedQty"])
        quote_qty = price * qty
        self.next_trade_id += 1
        if order["side"] == "BUY":
            commission, asset = qty * FEE, base  # Binance takes a buy's commission from what it receives
            self.balances[quote][1] -= order["reserved"]
            self.balances[quote][0] += order["reserved"] - quote_qty
            self.balances.setdefault(base, [D(0), D(0)])[0] += qty - commission
        else:
            commission, asset = quote_qty * FEE, quote
            self.balances[base][1] -= qty
            self.balances.setdefault(quote, [D(0), D(0)])[0] += quote_qty - commission
        trade: dict[str, Any] = {"price": format(price, "f"), "qty": format(qty, "f")}
        trade.update(commission=format(commission, "f"), commissionAsset=asset, tradeId=self.next_trade_id)
        order["fills"].append(trade)
        self.trades.append(
            {
                "symbol": order["symbol"],
                "id": self.next_trade_id,
                "orderId": order["orderId"],
                "orderListId": -1,
                "price": trade["price"],
                "qty": trade["qty"],
                "quoteQty": format(quote_qty, "f"),
                "commission": trade["commission"],
                "commissionAsset": asset,
                "time": self.now_ms,
                "isBuyer": order["side"] == "BUY",
                "isMaker": maker,
                "isBestMatch": True,
            }
        )
        order["executedQty"] = order["origQty"]
        order["cummulativeQuoteQty"] = format(D(order["cummulativeQuoteQty"]) + quote_qty, "f")
        order["status"] = "FILLED"
        order["updateTime"] = self.now_ms

    def _view(self, order: Mapping[str, Any]) -> dict[str, Any]:
        body = fixture("order.json")
        body.update({k: v for k, v in order.items() if k not in ("reserved", "fills")})
        body.update(timeInForce="GTC", isWorking=order["status"] == "NEW")
        return body

    def _find(self, p: dict[str, str]) -> dict[str, Any] | None:
        if "origClientOrderId" in p:
            if self.hidden_lookups > 0:
                self.hidden_lookups -= 1
                return None
            return self.orders.get(p["origClientOrderId"])
        wanted = int(p.get("orderId", "-1"))
        return next((o for o in self.orders.values() if o["orderId"] == wanted), None)

    def _get_order(self, p: dict[str, str]) -> Reply:
        order = self._find(p)
        if order is None or order["symbol"] != p["symbol"]:
            return self.error("order_missing")
        return Reply(200, self._view(order))

    def _cancel(self, p: dict[str, str]) -> Reply:
        order = self._find(p)
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return self.error("cancel_unknown")
        order["status"] = "CANCELED"
        info = self.symbols[order["symbol"]]
        asset = info["quoteAsset"] if order["side"] == "BUY" else info["baseAsset"]
        self.balances[asset][1] -= order["reserved"]
        self.balances[asset][0] += order["reserved"]
        body = copy.deepcopy(fixture("cancel.json"))
        body.update({k: v for k, v in self._view(order).items() if k in body})
        body.update(origClientOrderId=order["clientOrderId"], clientOrderId=f"cancel{order['orderId']}")
        body.update(transactTime=self.now_ms)
        return Reply(200, body)

    def _my_trades(self, p: dict[str, str]) -> Reply:
        rows = [t for t in self.trades if t["symbol"] == p["symbol"]]
        if "orderId" in p:
            rows = [t for t in rows if str(t["orderId"]) == p["orderId"]]
        return Reply(200, rows)
