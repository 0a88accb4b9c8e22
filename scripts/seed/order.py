"""Demo orders in every state, placed through the order service's API by the demo
customers and moved along their lifecycle by an administrator. Needs the demo customers
(auth seed: ctx.state["customer_ids"], and their sign-in tokens in ctx.state["user_tokens"]
by email, ctx.state["users"] email -> id) and products (product seed: ctx.state["products"],
slug -> id); without them nothing is done. Once the demo customers have orders, running
the seed again does nothing; each order is also placed with an Idempotency-Key, so a seed
interrupted half-way does not place one twice."""
import sys

ADDRESS = {"name": "Demo Customer", "line1": "1 Market Street", "city": "Springfield",
           "postalCode": "12345", "country": "US"}

# name, number of lines, coupon, what happens after checkout
PLAN = [
    ("pending", 1, None, []),
    ("confirmed-paid", 2, "WELCOME10", ["confirm", "pay"]),
    ("processing", 2, None, ["confirm", "process"]),
    ("shipped", 1, "SAVE5", ["confirm", "pay", "process", "ship"]),
    ("delivered", 3, None, ["confirm", "pay", "process", "ship", "deliver"]),
    ("cancelled", 1, None, ["cancel"]),
]


def customer_tokens(ctx):
    """(id, token) per demo customer: the auth service's own tokens when the auth seed
    signed them in, otherwise tokens signed like the auth service's."""
    ids = [i for i in ctx.state.get("customer_ids") or [] if isinstance(i, str)]
    email_of = {v: k for k, v in (ctx.state.get("users") or {}).items()}
    tokens = ctx.state.get("user_tokens") or {}
    return [(i, tokens.get(email_of.get(i)) or ctx.token_for(i, "customer")) for i in ids]


def seed(ctx):
    base = ctx.urls["order"]
    customers = customer_tokens(ctx)
    products = sorted((ctx.state.get("products") or {}).values())
    if not customers or len(products) < 10:
        print("seed: orders: skipped (needs the demo customers and products)")
        return
    for _, token in customers:
        status, mine = ctx.call("GET", f"{base}/api/orders?limit=1", None, token)
        if status == 200 and mine.get("totalCount", 0) > 0:
            print("seed: orders: already there")
            return
    placed, next_product = 0, 0
    for n, (name, nlines, coupon, steps) in enumerate(PLAN):
        _, token = customers[n % len(customers)]
        order = None
        for attempt in range(5):  # a product out of stock or not sold: take the next ones
            lines = [{"productId": products[(next_product + k) % len(products)], "quantity": 1} for k in range(nlines)]
            next_product += nlines
            body = {"items": lines, "shippingAddress": ADDRESS}
            if coupon and attempt < 2:
                body["couponCode"] = coupon
            status, order = ctx.call("POST", f"{base}/api/orders", body, token, {"Idempotency-Key": f"demo-{name}-{attempt}"})
            if status == 201:
                break
            order = None
        if order is None:
            print(f"seed: order {name}: not placed ({status})", file=sys.stderr)
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
