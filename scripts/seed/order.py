"""Demo orders in every state, placed through the order service's API as demo customers
and moved along their lifecycle by an administrator. Needs the demo users (auth seed:
ctx.state["users"], entries with id and role) and products (product seed:
ctx.state["products"], entries with id); without them nothing is done. Once the demo
customers have orders, running the seed again does nothing; each order is also placed
with an Idempotency-Key, so a seed interrupted half-way does not place one twice."""
import sys

ADDRESS = {"name": "Demo Customer", "line1": "1 Market Street", "city": "Springfield",
           "postalCode": "12345", "country": "US"}

# name, lines (product index, quantity), coupon, what happens after checkout
PLAN = [
    ("pending", [(0, 1)], None, []),
    ("confirmed-paid", [(1, 2)], "WELCOME10", ["confirm", "pay"]),
    ("processing", [(2, 1), (3, 1)], None, ["confirm", "process"]),
    ("shipped", [(4, 1)], None, ["confirm", "pay", "process", "ship"]),
    ("delivered", [(5, 3)], "SAVE5", ["confirm", "pay", "process", "ship", "deliver"]),
    ("cancelled", [(6, 1)], None, ["cancel"]),
]


def entries(value):
    """ctx.state entries as a list of dicts, whatever the seed stored (a list or a dict)."""
    if isinstance(value, dict):
        return [v if isinstance(v, dict) else {"id": v} for v in value.values()]
    return [v for v in (value or []) if isinstance(v, dict)]


def seed(ctx):
    base = ctx.urls["order"]
    customers = [u for u in entries(ctx.state.get("users")) if u.get("role") == "customer" and u.get("id")]
    products = [p for p in entries(ctx.state.get("products")) if p.get("id")]
    if not customers or len(products) < 7:
        print("seed: orders: skipped (needs the demo users and at least 7 demo products)")
        return
    for who in customers:
        status, mine = ctx.call("GET", f"{base}/api/orders?limit=1", None, ctx.token_for(who["id"], "customer"))
        if status == 200 and mine.get("totalCount", 0) > 0:
            print("seed: orders: already there")
            return
    placed = 0
    for n, (name, lines, coupon, steps) in enumerate(PLAN):
        who = customers[n % len(customers)]
        token = ctx.token_for(who["id"], "customer")
        body = {"items": [{"productId": products[i]["id"], "quantity": q} for i, q in lines],
                "shippingAddress": ADDRESS}
        if coupon:
            body["couponCode"] = coupon
        status, order = ctx.call("POST", f"{base}/api/orders", body, token, {"Idempotency-Key": f"demo-{name}"})
        if status == 409 and coupon:  # the coupon was used by this customer already: order without it
            body.pop("couponCode")
            status, order = ctx.call("POST", f"{base}/api/orders", body, token, {"Idempotency-Key": f"demo-{name}-plain"})
        if status != 201:
            print(f"seed: order {name}: {status} {order}", file=sys.stderr)
            continue
        status, now = ctx.call("GET", f"{base}/api/orders/{order['id']}", None, token)
        if status != 200 or now.get("version", 1) > 1:
            continue  # replayed: it was moved along the first time
        placed += 1
        for step in steps:
            path, payload, actor = step, None, ctx.token
            if step == "pay":
                path, payload = "payment", {"paymentStatus": "paid"}
            elif step == "ship":
                payload = {"carrier": "UPS", "trackingNumber": f"1Z999AA1{n:08d}"}
            elif step == "cancel":
                actor, payload = token, {"reason": "ordered by mistake"}
            status, out = ctx.call("POST", f"{base}/api/orders/{order['id']}/{path}", payload, actor)
            if status != 200:
                print(f"seed: order {name}: {step}: {status} {out}", file=sys.stderr)
                break
        ctx.state.setdefault("orders", {})[name] = order["id"]
    print(f"seed: orders: {placed} placed")
