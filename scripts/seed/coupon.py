"""Demo coupons, created through the coupon service's API; codes that exist are left
alone. ELECTRONICS15 is limited to the Electronics category when the category seed ran."""
import datetime
import sys


def iso(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def coupons(ctx):
    cats = ctx.state.get("categories", {})
    electronics = cats.get("electronics")
    return [
        {"code": "WELCOME10", "type": "percentage", "value": 10, "maxUsesPerCustomer": 1,
         "description": "10 % off a first order (once per customer)."},
        {"code": "SAVE5", "type": "fixed", "value": 500, "minOrderAmount": 2500,
         "description": "5.00 off orders of 25.00 or more."},
        {"code": "FLASH50", "type": "percentage", "value": 50, "maxDiscount": 2000, "maxUses": 100,
         "expiresAt": iso(7), "description": "Flash sale: half price up to 20.00, first 100 orders."},
        {"code": "SPRING2099", "type": "percentage", "value": 20, "startsAt": "2099-03-20T00:00:00Z",
         "description": "Not valid yet (shows NOT_STARTED)."},
        {"code": "SUMMER2020", "type": "fixed", "value": 1000, "startsAt": "2020-06-01T00:00:00Z",
         "expiresAt": "2020-09-01T00:00:00Z", "description": "Expired (shows EXPIRED)."},
    ] + ([{"code": "ELECTRONICS15", "type": "percentage", "value": 15, "maxDiscount": 5000,
           "categoryIds": [electronics], "description": "15 % off electronics, up to 50.00."}]
         if electronics else [])


def seed(ctx):
    base, token = ctx.urls["coupon"], ctx.token
    created = 0
    for c in coupons(ctx):
        status, found = ctx.call("GET", f"{base}/api/coupons/code/{c['code']}", None, token)
        if status == 404:
            status, found = ctx.call("POST", f"{base}/api/coupons", c, token)
            if status != 201:
                sys.exit(f"seed: creating coupon {c['code']} failed: {status} {found}")
            created += 1
        elif status != 200:
            sys.exit(f"seed: looking up coupon {c['code']} failed: {status} {found}")
        ctx.state.setdefault("coupons", {})[c["code"]] = found["id"]
    print(f"seed: coupons: {created} created")
