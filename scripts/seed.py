#!/usr/bin/env python3
"""Seeds the demo data through the services' own REST APIs, so everything it writes is
validated like any client's write. Idempotent: what already exists (matched by slug,
email or code) is left alone, so running it on every start is safe.

Needs the same JWT settings as the services (JWT_SECRET or JWT_SECRET_FILE, JWT_ISSUER,
JWT_AUDIENCE) to act as an administrator, and the service URLs (CATEGORY_URL, ...)."""
import base64, hashlib, hmac, json, os, secrets, sys, time, urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret():
    if os.environ.get("JWT_SECRET"):
        return os.environ["JWT_SECRET"].encode()
    with open(os.environ["JWT_SECRET_FILE"], "rb") as f:
        return f.read().strip()


def admin_token(sub="000000000000000000000001", role="admin"):
    """An access token (by default for the seeding administrator), signed like the auth
    service's."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": sub, "role": role, "typ": "access",
              "iss": os.environ.get("JWT_ISSUER", "mercato-auth"),
              "aud": os.environ.get("JWT_AUDIENCE", "mercato"),
              "iat": now, "nbf": now, "exp": now + 600, "jti": secrets.token_hex(16)}
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def call(method, url, body=None, token=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


# Services in the order their data depends on each other. scripts/seed/<service>.py
# defines seed(ctx) and is run when the service is up (its <SERVICE>_URL answers /health).
ORDER = ["category", "auth", "product", "coupon", "order"]


class Context:
    """What a seed module gets: the URLs, an admin token, call() and the data folder."""

    def __init__(self):
        self.token = admin_token()
        self.data = os.path.join(HERE, "seed")
        self.urls = {s: os.environ.get(s.upper() + "_URL") for s in ORDER}
        self.state = {}  # what earlier modules created (ids), for later ones

    def call(self, method, url, body=None, token=None, headers=None):
        return call(method, url, body, token, headers)

    def token_for(self, sub, role):
        """An access token acting as the user `sub` with `role` (demo orders are placed
        as the demo customers)."""
        return admin_token(sub, role)


def up(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return r.status == 200
    except Exception:
        return False


def wait_for(urls, seconds):
    """Waits until every URL answers /health (a seed job may start before the services it
    fills); exits with a message naming those still down after `seconds`."""
    deadline = time.monotonic() + seconds
    down = list(urls)
    while True:
        down = [u for u in down if not up(u)]
        if not down:
            return
        if time.monotonic() >= deadline:
            sys.exit(f"seed: still not answering after {seconds} s: {', '.join(down)}")
        time.sleep(1)


def main():
    import importlib.util
    ctx = Context()
    # MERCATO_SEED_WAIT_SECONDS: wait that long for every configured service instead of
    # skipping those that are not up yet.
    wait = int(os.environ.get("MERCATO_SEED_WAIT_SECONDS") or 0)
    if wait > 0:
        wait_for([u for u in ctx.urls.values() if u], wait)
    for name in ORDER:
        path = os.path.join(HERE, "seed", name + ".py")
        url = ctx.urls.get(name)
        if not os.path.exists(path) or not url or not up(url):
            continue
        spec = importlib.util.spec_from_file_location("seed_" + name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.seed(ctx)


if __name__ == "__main__":
    main()
