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


def admin_token():
    """An access token for the seeding administrator, signed like the auth service's."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": "000000000000000000000001", "role": "admin", "typ": "access",
              "iss": os.environ.get("JWT_ISSUER", "mercato-auth"),
              "aud": os.environ.get("JWT_AUDIENCE", "mercato"),
              "iat": now, "nbf": now, "exp": now + 600, "jti": secrets.token_hex(16)}
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def seed_categories(base, token):
    with open(os.path.join(HERE, "seed", "categories.json")) as f:
        tree = json.load(f)
    created = 0

    def walk(nodes, parent_id):
        nonlocal created
        for node in nodes:
            status, found = call("GET", f"{base}/api/categories/slug/{node['slug']}")
            if status == 200:
                cid = found["id"]
            elif status == 404:
                body = {k: v for k, v in node.items() if k != "children"}
                body["parentId"] = parent_id
                status, made = call("POST", f"{base}/api/categories", body, token)
                if status != 201:
                    sys.exit(f"seed: creating category {node['slug']} failed: {status} {made}")
                cid = made["id"]
                created += 1
            else:
                sys.exit(f"seed: looking up category {node['slug']} failed: {status} {found}")
            walk(node.get("children", []), cid)

    walk(tree, None)
    print(f"seed: categories: {created} created")


def main():
    token = admin_token()
    if os.environ.get("CATEGORY_URL"):
        seed_categories(os.environ["CATEGORY_URL"], token)


if __name__ == "__main__":
    main()
