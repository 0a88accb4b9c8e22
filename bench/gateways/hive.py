"""The Hive Gateway peer: GraphQL Mesh composes a supergraph from the services' OpenAPI
documents (peers/hive/mesh.config.mjs, `mesh-compose`), and Hive Gateway serves it
(`hive-gateway supergraph`), in one Node process, offline (no Hive Console token: no
usage reporting, nothing fetched at run time).

What Mesh is given, and why:
  - the operations the scenarios use, with their success answers only: GET /api/products,
    /api/products/{id} (product), /api/categories/batch (category), /api/users/batch
    (auth). Each document describes its errors as other answers of the same operation,
    which Mesh turns into a union per field (`listProducts_response`) that @resolveTo
    cannot read a result path from, and the services' shared component names (Error,
    Readiness, …) collide in composition; a Mesh user selects operations the same way.
  - the batch endpoints' `ids` parameter as what it is, a list sent comma-separated
    (`style: form, explode: false`) rather than the documents' plain string with a
    pattern, so Mesh can batch a product's category and seller into one call each
    (@resolveTo with keysArg), as our gateway and the Node peers do.
The documents are otherwise the services' own (services/<name>/openapi.json).

Mesh's schema is the REST one, not ours: the scenarios send Hive the same selections in
its shape (request_body), and its answers are mapped back to ours (normalise) for the
check that every gateway answers the same data. Money's `formatted` is ours alone (the
REST API has no formatted price): it is left out of that check for Hive.
"""
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PEER_DIR = os.path.join(HERE, "peers", "hive")
BIN = os.path.join(HERE, "node_modules", ".bin")
OPERATIONS = {
    "product": ["/api/products", "/api/products/{id}"],
    "category": ["/api/categories/batch"],
    "auth": ["/api/users/batch"],
}


def openapi_documents(out_dir):
    """Writes the documents Mesh composes (see the module's comment) into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    for service, paths in OPERATIONS.items():
        with open(os.path.join(ROOT, "services", service, "openapi.json")) as f:
            doc = json.load(f)
        doc["paths"] = {p: {m: o for m, o in doc["paths"][p].items() if m in ("get", "parameters")} for p in paths}
        for ops in doc["paths"].values():
            for op in ops.values():
                if not isinstance(op, dict):
                    continue
                op["responses"] = {"200": op["responses"]["200"]}
                for prm in op.get("parameters", []):
                    if prm.get("name") == "ids" and prm.get("in") == "query" and prm["schema"].get("type") == "string":
                        prm["schema"] = {"type": "array", "maxItems": 100,
                                         "items": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}}
                        prm["style"], prm["explode"] = "form", False
        with open(os.path.join(out_dir, service + ".json"), "w") as f:
            json.dump(doc, f)


def start(bench, port):
    """Composes the supergraph for this run's service URLs and starts Hive Gateway on
    port; returns its Proc. Raises RuntimeError with the reason when it cannot."""
    for tool in ("mesh-compose", "hive-gateway"):
        if not os.path.exists(os.path.join(BIN, tool)):
            raise RuntimeError(f"{tool} is not installed (bench/gateways/node_modules; bench/run installs it)")
    st = bench.stack
    work = os.path.join(bench.work, "hive")
    openapi_documents(os.path.join(work, "openapi"))
    env = dict(st.env)
    env.update({"HIVE_OPENAPI_DIR": os.path.join(work, "openapi"), "NODE_ENV": "production"})
    supergraph = os.path.join(work, "supergraph.graphql")
    r = subprocess.run([os.path.join(BIN, "mesh-compose"), "-o", supergraph], cwd=PEER_DIR, env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not os.path.exists(supergraph):
        raise RuntimeError(f"mesh-compose failed ({r.returncode}): {(r.stderr or r.stdout)[-800:]}")
    return st.start("hive", [os.path.join(BIN, "hive-gateway"), "supergraph", supergraph, "--port", str(port),
                             "--host", "127.0.0.1"], env, cwd=PEER_DIR)


PRODUCT_Q1 = "id name slug price currency stock category { id name slug } seller { id name }"
PRODUCT_Q2 = ("id name slug description price currency images tags stock ratingAverage ratingCount isFeatured "
              "categoryId sellerId createdAt")
QUERIES = {
    "Q1": "query Q1 { listProducts(limit: 50, sort: newest) { items { " + PRODUCT_Q1 + " } } }",
    "Q2": ("query Q2 { listProducts(limit: 50, sort: newest) { totalCount pageInfo { hasNextPage endCursor } "
           "cursors items { " + PRODUCT_Q2 + " } } }"),
    "Q3": "{ __typename }",
    "Q4": ("query Q4($id: queryInput_getProduct_id!) { getProduct(id: $id) { id name slug description price currency "
           "images tags stock ratingAverage ratingCount updatedAt } }"),
}


def request_body(scenario, body):
    """The request Hive gets for a scenario: the same selection in Mesh's schema."""
    out = {"query": QUERIES[scenario]}
    if "variables" in body:
        out["variables"] = body["variables"]
    return out


def _money(p):
    return {"amount": p["price"], "currency": p["currency"]}


def normalise(scenario, data):
    """Hive's answer in our schema's shape (without Money.formatted), for comparison."""
    if scenario == "Q1":
        nodes = []
        for p in data["listProducts"]["items"]:
            nodes.append({"id": p["id"], "name": p["name"], "slug": p["slug"], "price": _money(p), "stock": p["stock"],
                          "category": p["category"], "seller": p["seller"]})
        return {"products": {"nodes": nodes}}
    if scenario == "Q2":
        page = data["listProducts"]
        edges = []
        for cursor, p in zip(page["cursors"], page["items"]):
            node = {k: p[k] for k in ("id", "name", "slug", "description", "images", "tags", "stock", "ratingAverage",
                                      "ratingCount", "isFeatured", "categoryId", "sellerId", "createdAt")}
            node["price"] = _money(p)
            edges.append({"cursor": cursor, "node": node})
        return {"products": {"totalCount": page["totalCount"], "pageInfo": page["pageInfo"], "edges": edges}}
    if scenario == "Q4":
        p = data["getProduct"]
        if p is None:
            return {"product": None}
        out = {k: p[k] for k in ("id", "name", "slug", "description", "images", "tags", "stock", "ratingAverage",
                                 "ratingCount", "updatedAt")}
        out["price"] = _money(p)
        return {"product": out}
    return data


def comparable(scenario, ours):
    """Our answer's data without what Hive cannot give (Money.formatted)."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "formatted"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(ours)


if __name__ == "__main__":
    raise SystemExit("hive.py is a module of bench/gateways/compare.py")
