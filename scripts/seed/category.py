"""Demo categories (scripts/seed/categories.json), created through the category
service's API; existing slugs are left alone."""
import json
import os
import sys


def seed(ctx):
    base, token = ctx.urls["category"], ctx.token
    with open(os.path.join(ctx.data, "categories.json")) as f:
        tree = json.load(f)
    created = 0

    def walk(nodes, parent_id):
        nonlocal created
        for node in nodes:
            status, found = ctx.call("GET", f"{base}/api/categories/slug/{node['slug']}")
            if status == 200:
                cid = found["id"]
            elif status == 404:
                body = {k: v for k, v in node.items() if k != "children"}
                body["parentId"] = parent_id
                status, made = ctx.call("POST", f"{base}/api/categories", body, token)
                if status != 201:
                    sys.exit(f"seed: creating category {node['slug']} failed: {status} {made}")
                cid = made["id"]
                created += 1
            else:
                sys.exit(f"seed: looking up category {node['slug']} failed: {status} {found}")
            ctx.state.setdefault("categories", {})[node["slug"]] = cid
            walk(node.get("children", []), cid)

    walk(tree, None)
    print(f"seed: categories: {created} created")
