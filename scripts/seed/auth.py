"""Demo users (DEMO DATA: the passwords below are public, see README), created through the
auth service's API: an administrator, two sellers and three customers, each customer with
a shipping address. Registration makes customers and sellers; the administrator role is
granted through the admin route with the seed's admin token. Existing users (matched by
email) are left alone, so running it on every start is safe.

Later modules find the ids in ctx.state["users"] (email -> id), ctx.state["admin_id"],
ctx.state["seller_ids"] and ctx.state["customer_ids"]; ctx.state["user_tokens"] holds an
access token per demo email (products are created by their sellers, orders by customers)."""
import sys
import urllib.parse

DEMO_PASSWORD = "mercato-demo-2026"

USERS = [
    {"email": "admin@mercato.example", "name": "Ada Admin", "role": "admin"},
    {"email": "seller.one@mercato.example", "name": "Sam Seller", "role": "seller"},
    {"email": "seller.two@mercato.example", "name": "Sofia Stores", "role": "seller"},
    {"email": "alice@mercato.example", "name": "Alice Customer", "role": "customer",
     "address": {"label": "Home", "fullName": "Alice Customer", "line1": "12 Market Street", "city": "Berlin",
                 "postalCode": "10115", "country": "DE", "phone": "+4930123456"}},
    {"email": "bob@mercato.example", "name": "Bob Buyer", "role": "customer",
     "address": {"label": "Home", "fullName": "Bob Buyer", "line1": "221B Baker Street", "city": "London",
                 "postalCode": "NW1 6XE", "country": "GB"}},
    {"email": "carol@mercato.example", "name": "Carol Client", "role": "customer",
     "address": {"label": "Office", "fullName": "Carol Client", "line1": "350 Fifth Avenue", "city": "New York",
                 "region": "NY", "postalCode": "10118", "country": "US"}},
]


def seed(ctx):
    base, admin = ctx.urls["auth"], ctx.token
    created = 0
    ids, tokens = {}, {}
    for u in USERS:
        q = urllib.parse.quote(u["email"])
        status, found = ctx.call("GET", f"{base}/api/users?q={q}&limit=5", token=admin)
        if status != 200:
            sys.exit(f"seed: looking up user {u['email']} failed: {status} {found}")
        match = [x for x in found["items"] if x["email"].lower() == u["email"]]
        if match:
            uid = match[0]["id"]
        else:
            body = {"email": u["email"], "password": DEMO_PASSWORD, "name": u["name"],
                    "role": "seller" if u["role"] == "seller" else "customer"}
            status, made = ctx.call("POST", f"{base}/api/auth/register", body)
            if status != 201:
                sys.exit(f"seed: registering {u['email']} failed: {status} {made}")
            uid = made["user"]["id"]
            created += 1
            if u["role"] == "admin":
                status, made = ctx.call("PUT", f"{base}/api/users/{uid}/role", {"role": "admin"}, admin)
                if status != 200:
                    sys.exit(f"seed: making {u['email']} an administrator failed: {status} {made}")
        ids[u["email"]] = uid
        status, session = ctx.call("POST", f"{base}/api/auth/login",
                                   {"email": u["email"], "password": DEMO_PASSWORD})
        if status != 200:
            # the password was changed by hand since: the user is there, just not ours to act as
            print(f"seed: cannot sign in as {u['email']} ({status}); skipping its address")
            continue
        tokens[u["email"]] = session["accessToken"]
        if "address" in u:
            status, have = ctx.call("GET", f"{base}/api/addresses", token=session["accessToken"])
            if status == 200 and not have["items"]:
                status, made = ctx.call("POST", f"{base}/api/addresses", u["address"], session["accessToken"])
                if status != 201:
                    sys.exit(f"seed: adding an address for {u['email']} failed: {status} {made}")
    ctx.state["users"] = ids
    ctx.state["user_tokens"] = tokens
    ctx.state["admin_id"] = ids["admin@mercato.example"]
    ctx.state["seller_ids"] = [ids[u["email"]] for u in USERS if u["role"] == "seller"]
    ctx.state["customer_ids"] = [ids[u["email"]] for u in USERS if u["role"] == "customer"]
    print(f"seed: users: {created} created (demo password for every demo user: {DEMO_PASSWORD})")
