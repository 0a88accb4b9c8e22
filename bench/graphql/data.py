"""
Deterministic JSON root values for the GraphQL benchmark (bench/graphql/run.py):
the same bytes on every run, so C and graphql-js execute the same input.
"""
import json
import random

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF"]
WORDS = ("cable adapter lamp chair desk phone case charger speaker headphones mouse "
         "keyboard monitor stand bottle jacket shoe sock bag tent").split()


def _price(r):
    amount = round(r.uniform(0.5, 999.0), 2)
    return {"amount": amount, "currency": r.choice(CURRENCIES), "minor": int(amount * 100),
            "formatted": f"{amount:.2f}"}


def _address(r):
    return {"street": f"Street {r.randint(1, 200)}", "city": r.choice(["Zürich", "Berlin", "Paris", "Oslo"]),
            "country": r.choice(["CH", "DE", "FR", "NO"]), "zip": str(r.randint(1000, 99999)),
            "geo": [round(r.uniform(-90, 90), 6), round(r.uniform(-180, 180), 6)]}


def _user(r, i):
    return {"__typename": "User", "id": f"u{i}", "name": f"User {i}", "createdAt": "2023-01-02T03:04:05Z",
            "email": f"user{i}@example.com", "role": "CUSTOMER"}


def _category(r, i, depth=0):
    c = {"__typename": "Category", "id": f"c{i}", "name": f"Category {i}", "slug": f"category-{i}",
         "createdAt": "2022-05-06T07:08:09Z", "parent": None if i == 0 else {"id": "c0", "name": "Root"}}
    if depth < 3:
        c["children"] = [_category(r, i * 10 + k + 1, depth + 1) for k in range(3 if depth < 2 else 2)]
    else:
        c["children"] = []
    return c


def _product(r, i, related=True):
    words = r.sample(WORDS, 3)
    p = {
        "__typename": "Product", "id": f"p{i}", "name": " ".join(words).title(),
        "createdAt": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
        "description": f"A {words[0]} that goes with your {words[1]} — \"quoted\" and\nmultiline.",
        "price": _price(r), "listPrice": r.randint(100, 99999), "stock": r.randint(0, 500),
        "rating": round(r.uniform(1, 5), 1) if i % 7 else None,
        "tags": r.sample(WORDS, r.randint(1, 4)),
        "category": {"id": f"c{i % 5}", "name": f"Category {i % 5}", "slug": f"category-{i % 5}",
                     "parent": {"id": "c0", "name": "Root"}},
        "seller": {"id": f"s{i % 9}", "name": f"Seller {i % 9}", "createdAt": "2020-01-01T00:00:00Z",
                   "__typename": "Seller", "rating": round(r.uniform(3, 5), 2), "verified": i % 3 != 0,
                   "address": _address(r)},
        "images": [{"url": f"https://img.example.com/p{i}/{k}.jpg", "width": 320 * (k + 1),
                    "height": 240 * (k + 1), "alt": None if k else "front"} for k in range(3)],
        "reviews": [{"__typename": "Review", "id": f"r{i}-{k}", "rating": r.randint(1, 5),
                     "title": f"Review {k}", "body": "Fine.", "helpful": r.randint(0, 40),
                     "createdAt": "2024-03-04T05:06:07Z", "author": {"id": f"u{k}", "name": f"User {k}"}}
                    for k in range(3)],
        "variants": [{"sku": f"p{i}-{c}", "color": c, "size": r.choice(["S", "M", "L"]),
                      "stock": r.randint(0, 20), "price": _price(r)} for c in ("red", "blue")],
    }
    p["thumbnail"] = p["images"][:1]
    p["related"] = [_product(r, 1000 + i * 10 + k, related=False) for k in range(2)] if related else []
    return p


def product_list(n=100, seed=1):
    r = random.Random(seed)
    return {"products": [_product(r, i, related=False) for i in range(n)]}


def kitchen_sink(seed=2):
    r = random.Random(seed)
    products = [_product(r, i) for i in range(20)]
    orders = [{"__typename": "Order", "id": f"o{k}", "status": ["PAID", "SHIPPED", "PENDING"][k % 3],
               "placedAt": "2024-06-07T08:09:10Z", "coupon": None if k % 2 else "WELCOME10",
               "total": _price(r), "shipping": _address(r),
               "items": [{"quantity": q + 1, "unitPrice": _price(r), "product": products[q]} for q in range(2)]}
              for k in range(3)]
    me = _user(r, 0)
    me["orders"] = orders
    connection = {"totalCount": 20, "pageInfo": {"hasNextPage": True, "hasPreviousPage": False,
                                                 "startCursor": "c0", "endCursor": "c5"},
                  "edges": [{"cursor": f"c{k}", "node": products[k]} for k in range(6)]}
    electronics = _category(r, 0)
    electronics["products"] = connection
    return {
        "me": me,
        "products": products,
        "featured": connection,
        "categories": [_category(r, k) for k in range(4)],
        "category": electronics,
        "search": [products[0], _category(r, 7), products[3]["seller"], _user(r, 5)],
        "nodes": [products[1], {"__typename": "Review", "id": "r1", "rating": 4, "title": "Ok"}, None],
        "node": products[2],
    }


if __name__ == "__main__":
    import sys
    print(json.dumps(kitchen_sink() if sys.argv[1:] == ["kitchen"] else product_list()))
