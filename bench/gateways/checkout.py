"""M1: checkouts per second through our gateway (the `checkout` mutation) and, as its
ceiling, the same order placed directly with the order service — for orders of 1 line
and of 10 lines — then a race for the last units of one product that must not oversell.

Why Python threads and not wrk: every checkout needs its own customer (a token of a
fresh user id, so that no per-customer limit or cart interferes) and is slow enough
(tens of milliseconds, bounded by the database) that a few blocking keep-alive clients
keep the stack saturated; measuring orders placed and the errors met needs the answers
read, which a wrk script does poorly.

The products ordered are created once (fixed slugs, found again on the next run on the
same data) with stock far above what any run sells, so a run measures checkouts, not
refusals. They are created before the read scenarios run (compare.py calls prepare()),
so the catalog Q1 and Q2 page through is the same whichever scenarios a run selects.
"""
import http.client
import json
import os
import secrets
import statistics
import threading
import time
import urllib.parse

import stack as stackmod

PRODUCTS = 10          # the 10-line order takes one unit of each
PLENTY = 1_000_000_000  # the maximum stock the product service accepts
RACE_STOCK = 25        # units of the raced product; every run starts it there again
ADDRESS = {"name": "Bench Customer", "line1": "1 Load Street", "city": "Springfield", "postalCode": "12345",
           "country": "US"}
MUTATION = ("mutation M1($input: CheckoutInput!, $key: String) { checkout(input: $input, idempotencyKey: $key) "
            "{ id number status total { amount currency } } }")


def _oid():
    return secrets.token_hex(12)


def prepare(bench):
    """Creates (or finds) the products the checkouts order and the raced one; returns
    {"lines": [ids], "race": id, "admin": token}. Idempotent on the same data: the ids
    are kept in the data directory (a look-up by slug is a scan of the whole catalog on
    FerretDB, tens of seconds on a busy machine; by id it is one index probe)."""
    st = bench.stack
    admin = bench.token(_oid(), "admin")
    auth = {"Authorization": "Bearer " + admin}
    kept = os.path.join(st.data, "checkout-products.json")
    try:
        with open(kept) as f:
            ids = json.load(f)
        if all(stackmod.get_json(st.url("product", f"/api/products/{pid}"), headers=auth, timeout=120)[0] == 200
               for pid in ids["lines"] + [ids["race"]]):
            return dict(ids, admin=admin)
    except (OSError, ValueError, KeyError):
        pass
    # A seller of the seeded catalog owns them; their category is a seeded one.
    status, page, raw = stackmod.get_json(st.url("product", "/api/products?limit=1&sort=newest"), headers=auth,
                                          timeout=600)
    if status != 200 or not page["items"]:
        raise RuntimeError(f"no seeded product to take a category from: {status} {raw[:200]!r}")
    category, seller = page["items"][0]["categoryId"], page["items"][0]["sellerId"]
    seller_token = bench.token(seller, "seller")
    out = {"lines": []}
    batch = secrets.token_hex(3)  # new slugs: looking up those of a lost earlier batch is a scan each
    for i in range(PRODUCTS + 1):
        slug = f"bench-checkout-{batch}-{i}" if i < PRODUCTS else f"bench-checkout-{batch}-race"
        body = {"name": f"Bench checkout product {i}" if i < PRODUCTS else "Bench checkout race",
                "slug": slug, "price": 1000 + i, "currency": "USD", "categoryId": category,
                "stock": PLENTY if i < PRODUCTS else RACE_STOCK,
                "description": "Ordered by the checkout benchmark (bench/gateways)."}
        status, found, raw = stackmod.post_json(st.url("product", "/api/products"), body,
                                                headers={"Authorization": "Bearer " + seller_token}, timeout=120)
        if status != 201:
            raise RuntimeError(f"creating {slug}: {status} {raw[:300]!r}")
        if i < PRODUCTS:
            out["lines"].append(found["id"])
        else:
            out["race"] = found["id"]
    with open(kept, "w") as f:
        json.dump(out, f)
    return dict(out, admin=admin)


def set_stock(bench, pid, stock, admin):
    for attempt in range(5):  # 503: the database busy (FerretDB after a heavy run)
        status, _, raw = stackmod.post_json(bench.stack.url("product", f"/api/products/{pid}/stock"),
                                            {"stock": stock, "reason": "checkout benchmark"},
                                            headers={"Authorization": "Bearer " + admin}, timeout=120)
        if status != 503:
            break
        time.sleep(2 ** attempt)
    if status != 200:
        raise RuntimeError(f"setting the stock of {pid}: {status} {raw[:300]!r}")


def stock_of(bench, pid, admin):
    status, p, raw = stackmod.get_json(bench.stack.url("product", f"/api/products/{pid}"),
                                       headers={"Authorization": "Bearer " + admin, "Cache-Control": "no-cache"}, timeout=120)
    if status != 200:
        raise RuntimeError(f"reading {pid}: {status} {raw[:300]!r}")
    return p["stock"]


class Client:
    """One keep-alive connection placing orders, through the gateway or the order service."""

    def __init__(self, bench, target):
        self.bench, self.target = bench, target
        name = "gateway" if target == "gateway" else "order"
        u = urllib.parse.urlparse(bench.stack.url(name))
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def place(self, lines):
        """Places one order of lines [(id, qty)] as a new customer; returns (ok, kind)
        where kind names a refusal (OUT_OF_STOCK, another code, or a transport error)."""
        tok = self.bench.token(_oid(), "customer")
        key = secrets.token_hex(16)
        items = [{"productId": p, "quantity": q} for p, q in lines]
        if self.target == "gateway":
            path = "/graphql"
            body = {"query": MUTATION, "variables": {"input": {"items": items, "shippingAddress": ADDRESS}, "key": key}}
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + tok}
        else:
            path = "/api/orders"
            body = {"items": items, "shippingAddress": ADDRESS}
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + tok, "Idempotency-Key": key}
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request("POST", path, json.dumps(body), headers)
            r = self.conn.getresponse()
            raw = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return False, "transport: " + type(e).__name__
        try:
            ans = json.loads(raw)
        except ValueError:
            return False, f"HTTP {status} (not JSON)"
        if self.target == "gateway":
            if status == 200 and not ans.get("errors") and (ans.get("data") or {}).get("checkout"):
                return True, None
            errs = ans.get("errors") or [{}]
            ext = errs[0].get("extensions") or {}
            reason = (ext.get("details") or {}).get("reason") if isinstance(ext.get("details"), dict) else None
            return False, reason or ext.get("code") or f"HTTP {status}"
        if status == 201:
            return True, None
        err = ans.get("error") or {}
        reason = (err.get("details") or {}).get("reason") if isinstance(err.get("details"), dict) else None
        return False, reason or err.get("code") or f"HTTP {status}"

    def close(self):
        if self.conn is not None:
            self.conn.close()


def drive(bench, target, lines_of, clients, seconds, stop_when=None):
    """Keeps `clients` orders in flight for `seconds` (or until stop_when(outcomes) says
    so); returns orders placed, per second, latency percentiles and refusals by kind."""
    lat, refusals, lock = [], {}, threading.Lock()
    placed = [0]
    done = threading.Event()
    deadline = time.monotonic() + seconds

    def worker():
        c = Client(bench, target)
        try:
            while not done.is_set() and time.monotonic() < deadline:
                t = time.monotonic()
                ok, kind = c.place(lines_of())
                dt = time.monotonic() - t
                with lock:
                    if ok:
                        placed[0] += 1
                        lat.append(dt)
                    else:
                        refusals[kind] = refusals.get(kind, 0) + 1
                    if stop_when is not None and stop_when(placed[0], refusals):
                        done.set()
        finally:
            c.close()

    pids = bench.pids_of_stack()
    if target == "gateway":
        pids["target"] = bench.procs["mercato"].pid
    t0 = time.monotonic()
    import loadgen

    def run_threads():
        ts = [threading.Thread(target=worker) for _ in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    _, usage = loadgen.measured(pids, run_threads)
    wall = time.monotonic() - t0
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else None
    return {"orders": placed[0], "seconds": wall, "orders_per_s": placed[0] / wall if wall else 0,
            "p50_ms": pct(50), "p99_ms": pct(99), "mean_ms": statistics.fmean(lat) * 1000 if lat else None,
            "refusals": refusals, "usage": usage, "clients": clients}


def run(bench):
    s = bench.s
    prep = bench.checkout_products
    # Few clients: FerretDB serves one writer at a time, so more clients in flight add
    # latency, not orders, and past about ten seconds a checkout outlasts the gateway's
    # upstream timeout. Ten-line orders take about three times the database work of
    # one-line orders (every line is a stock movement): a quarter of the clients.
    clients = {"1 line": s.m1_clients, "10 lines": max(1, s.m1_clients // 4)}
    out = {"clients": clients, "runs": {}, "race": None}
    ids = prep["lines"]
    shapes = {"1 line": lambda: [(ids[secrets.randbelow(len(ids))], 1)], "10 lines": lambda: [(p, 1) for p in ids]}

    # The race first, on a database not yet busy with the runs' after-effects: more buyers
    # than units, one unit each, through the gateway, until every client has met
    # OUT_OF_STOCK twice after the last unit went (or a minute passed).
    set_stock(bench, prep["race"], RACE_STOCK, prep["admin"])

    def sold_out(placed, refusals):
        return refusals.get("OUT_OF_STOCK", 0) >= s.m1_clients * 2

    r = drive(bench, "gateway", lambda: [(prep["race"], 1)], s.m1_clients, 60, stop_when=sold_out)
    left = stock_of(bench, prep["race"], prep["admin"])
    r.update({"stock": RACE_STOCK, "stock_after": left,
              "oversold": r["orders"] > RACE_STOCK or left < 0,
              "consistent": r["orders"] + left == RACE_STOCK})
    out["race"] = r
    bench.log(f"M1 race for {RACE_STOCK} units, {s.m1_clients} clients: {r['orders']} orders placed, stock left {left}, "
              f"refusals {r['refusals']} -> {'OVERSOLD' if r['oversold'] else 'no oversell'}"
              f"{'' if r['consistent'] else ', orders + stock left != stock'}")

    for run_no in range(s.runs):
        for shape, lines_of in shapes.items():
            for target in ("gateway", "rest:order"):
                r = drive(bench, target, lines_of, clients[shape], s.duration)
                out["runs"].setdefault(f"{shape}/{target}", []).append(r)
                bench.log(f"M1 {shape} via {target} run {run_no + 1}/{s.runs}: {r['orders_per_s']:.1f} orders/s, "
                          f"p50 {r['p50_ms'] or 0:.0f} ms p99 {r['p99_ms'] or 0:.0f} ms, refusals {r['refusals']}, "
                          f"FerretDB {r['usage'].get('ferretdb', {}).get('cpu_cores', 0):.2f} cores")
    return out
