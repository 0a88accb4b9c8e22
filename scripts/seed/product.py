"""Demo products across the seeded categories, created through the product service's API
as an administrator on behalf of the demo sellers.

Deterministic: the catalog is generated from a fixed random seed, so every run produces
the same products (names, prices, tags, stock); idempotent: a product whose slug already
exists is left alone. MERCATO_SEED_PRODUCTS sets how many (default 300; the benchmarks use
thousands).

Sellers: the ids in ctx.state["seller_ids"] (from the auth seed) (a list of ids, or of objects with an "id") when
an earlier seed module (auth) put them there; otherwise the demo seller ids below, which
are only ids — no accounts exist for them until the auth service creates such users.
"""
import concurrent.futures
import os
import random
import sys

DEMO_SELLERS = ["000000000000000000000a01", "000000000000000000000a02", "000000000000000000000a03"]
SEED = 20261121

# leaf category slug -> (nouns with a price range in cents, tags)
CATALOG = {
    "smartphones": ([("Smartphone", 19900, 129900), ("5G Phone", 29900, 99900), ("Foldable Phone", 99900, 189900)],
                    ["5g", "android", "dual-sim", "oled"]),
    "phone-accessories": ([("Phone Case", 990, 4990), ("USB-C Charger", 1490, 5990), ("Screen Protector", 590, 2490),
                           ("Wireless Charging Pad", 1990, 6990), ("Power Bank", 1990, 8990)],
                          ["usb-c", "fast-charging", "magnetic", "slim"]),
    "laptops": ([("Laptop", 49900, 249900), ("Ultrabook", 89900, 219900), ("Gaming Laptop", 99900, 349900),
                 ("Chromebook", 19900, 59900)], ["ssd", "backlit-keyboard", "thunderbolt", "16gb-ram"]),
    "desktops": ([("Desktop PC", 59900, 299900), ("Mini PC", 29900, 89900), ("Workstation", 149900, 499900)],
                 ["ssd", "wifi-6", "quiet"]),
    "monitors": ([("Monitor", 12900, 89900), ("4K Monitor", 29900, 129900), ("Curved Monitor", 24900, 99900)],
                 ["4k", "144hz", "ips", "usb-c"]),
    "headphones": ([("Wireless Headphones", 4990, 44990), ("Noise Cancelling Headphones", 14990, 44990),
                    ("Earbuds", 2990, 24990), ("Studio Headphones", 7990, 34990)],
                   ["wireless", "noise-cancelling", "bluetooth", "over-ear"]),
    "speakers": ([("Bluetooth Speaker", 2990, 29990), ("Smart Speaker", 4990, 19990), ("Soundbar", 9990, 89990),
                  ("Bookshelf Speakers", 9990, 59990)], ["bluetooth", "waterproof", "stereo", "bass"]),
    "cameras": ([("Mirrorless Camera", 49900, 299900), ("Action Camera", 14900, 49900), ("Instant Camera", 5990, 14990),
                 ("Camera Lens", 19900, 149900)], ["4k-video", "stabilization", "interchangeable-lens"]),
    "furniture": ([("Office Chair", 9900, 69900), ("Standing Desk", 24900, 99900), ("Bookcase", 7900, 39900),
                   ("Sofa", 49900, 299900), ("Coffee Table", 9900, 49900)], ["solid-wood", "ergonomic", "assembly-required"]),
    "cookware": ([("Frying Pan", 1990, 12990), ("Cast Iron Skillet", 2490, 9990), ("Stock Pot", 2990, 14990),
                  ("Saucepan Set", 4990, 29990), ("Dutch Oven", 4990, 34990)], ["non-stick", "induction", "oven-safe", "cast-iron"]),
    "small-appliances": ([("Blender", 3990, 49990), ("Coffee Maker", 2990, 39990), ("Air Fryer", 5990, 24990),
                          ("Electric Kettle", 1990, 12990), ("Toaster", 1990, 14990), ("Stand Mixer", 14990, 69990)],
                         ["stainless-steel", "programmable", "dishwasher-safe"]),
    "decor": ([("Table Lamp", 1990, 14990), ("Wall Clock", 1490, 9990), ("Throw Pillow", 990, 4990), ("Vase", 990, 7990),
               ("Picture Frame", 790, 4990)], ["handmade", "ceramic", "linen", "minimalist"]),
    "men": ([("Oxford Shirt", 2990, 12990), ("Chino Trousers", 3990, 14990), ("Wool Sweater", 4990, 19990),
             ("Rain Jacket", 7990, 34990)], ["cotton", "slim-fit", "wool", "organic"]),
    "women": ([("Linen Dress", 4990, 19990), ("Silk Blouse", 5990, 24990), ("Denim Jacket", 6990, 19990),
               ("Knit Cardigan", 3990, 14990)], ["linen", "silk", "organic", "relaxed-fit"]),
    "kids": ([("Kids Hoodie", 1990, 5990), ("Kids Rain Boots", 1990, 4990), ("Kids Pajama Set", 1490, 3990)],
             ["cotton", "machine-washable", "organic"]),
    "shoes": ([("Running Shoes", 5990, 24990), ("Leather Boots", 9990, 34990), ("Sneakers", 4990, 17990),
               ("Sandals", 2490, 9990)], ["leather", "breathable", "waterproof", "vegan"]),
    "fiction": ([("Novel", 899, 2999), ("Mystery Novel", 899, 2499), ("Science Fiction Novel", 999, 2999),
                 ("Short Story Collection", 899, 2499)], ["paperback", "hardcover", "bestseller"]),
    "non-fiction": ([("History Book", 1299, 3999), ("Cookbook", 1499, 4499), ("Biography", 1299, 3499),
                     ("Science Book", 1299, 3999)], ["paperback", "hardcover", "illustrated"]),
    "childrens-books": ([("Picture Book", 699, 1999), ("Board Book", 499, 1499), ("Activity Book", 599, 1499)],
                        ["illustrated", "ages-3-5", "ages-6-8"]),
    "fitness": ([("Yoga Mat", 1990, 8990), ("Adjustable Dumbbells", 9990, 39990), ("Resistance Bands", 990, 3990),
                 ("Kettlebell", 2990, 12990)], ["non-slip", "home-gym", "adjustable"]),
    "camping": ([("Camping Tent", 7990, 49990), ("Sleeping Bag", 3990, 24990), ("Camping Stove", 2990, 14990),
                 ("Headlamp", 1490, 6990)], ["lightweight", "waterproof", "4-season"]),
    "cycling": ([("Bike Helmet", 3990, 19990), ("Bike Light Set", 1990, 7990), ("Cycling Jersey", 3990, 12990),
                 ("Bike Lock", 1990, 9990)], ["reflective", "usb-rechargeable", "lightweight"]),
    "toys-games": ([("Board Game", 1990, 7990), ("Jigsaw Puzzle", 1290, 4990), ("Building Blocks Set", 2990, 14990),
                    ("Wooden Train Set", 2990, 12990)], ["family", "ages-6-plus", "educational"]),
}
BRANDS = ["Aurora", "Northwind", "Kestrel", "Lumen", "Halcyon", "Meridian", "Orchard", "Tidewater", "Summit", "Ember",
          "Juniper", "Solace", "Vireo", "Cobalt", "Fjord", "Harbor", "Alder", "Quartz", "Saffron", "Pinecrest"]
ADJECTIVES = ["Classic", "Pro", "Lite", "Essential", "Premium", "Compact", "Signature", "Everyday", "Studio", "Urban",
              "Original", "Ultra", "Active", "Heritage", "Nova"]
VARIANTS = ["Black", "White", "Graphite", "Sand", "Navy", "Forest Green", "Slate", "Coral", "Oak", "Silver"]
OPENINGS = ["Built to last and designed for everyday use.", "A favourite of our customers for its quality and value.",
            "Thoughtfully designed with attention to every detail.", "Made from carefully selected materials.",
            "Simple, reliable and easy to love."]
CLOSINGS = ["Backed by a two-year warranty.", "Ships within two business days.", "Easy returns within 30 days.",
            "Cleans up in seconds.", "Arrives ready to use."]


def slugify(name):
    out, dash = [], False
    for ch in name.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def generate(count, category_ids, sellers):
    """The whole demo catalog, the same list on every run for the same count."""
    rnd = random.Random(SEED)
    leaves = [slug for slug in CATALOG if slug in category_ids]
    if not leaves:
        return []
    seen, products = set(), []
    i = 0
    while len(products) < count and i < count * 20:
        i += 1
        slug_cat = leaves[rnd.randrange(len(leaves))]
        nouns, tags = CATALOG[slug_cat]
        noun, lo, hi = nouns[rnd.randrange(len(nouns))]
        brand, adj, variant = rnd.choice(BRANDS), rnd.choice(ADJECTIVES), rnd.choice(VARIANTS)
        name = f"{brand} {adj} {noun}" + (f" - {variant}" if slug_cat not in ("fiction", "non-fiction", "childrens-books") else "")
        if name in seen:
            name = f"{name} {rnd.randrange(2, 99)}"
            if name in seen:
                continue
        seen.add(name)
        # prices end in 9 or 0 cents, like shop prices
        price = (rnd.randrange(lo, hi) // 10) * 10 + rnd.choice([0, 9])
        picked = rnd.sample(tags, k=min(len(tags), rnd.randrange(1, 4)))
        stock = rnd.choice([0, 0, 3, 5, 8, 12, 20, 35, 50, 80, 120, 250])
        desc = f"The {brand} {adj} {noun.lower()}. {rnd.choice(OPENINGS)} {rnd.choice(CLOSINGS)}"
        slug = slugify(name)
        products.append({
            "name": name,
            "slug": slug,
            "description": desc,
            "price": price,
            "currency": "USD",
            "categoryId": category_ids[slug_cat],
            "sellerId": sellers[rnd.randrange(len(sellers))],
            "tags": picked,
            "stock": stock,
            "images": [f"https://images.mercato.example/products/{slug}-{k}.jpg" for k in range(1, rnd.randrange(2, 4))],
            "isFeatured": rnd.random() < 0.08,
        })
    return products


def seller_ids(ctx):
    got = ctx.state.get("seller_ids") or []
    ids = [s["id"] if isinstance(s, dict) else s for s in got]
    ids = [s for s in ids if isinstance(s, str) and len(s) == 24]
    return ids or DEMO_SELLERS


def seed(ctx):
    base, token = ctx.urls["product"], ctx.token
    categories = ctx.state.get("categories") or {}
    if not categories:
        print("seed: products: no categories to put them in; skipped")
        return
    count = int(os.environ.get("MERCATO_SEED_PRODUCTS", "300"))
    products = generate(count, categories, seller_ids(ctx))

    def one(p):
        status, found = ctx.call("GET", f"{base}/api/products/slug/{p['slug']}", None, token)
        if status == 200:
            return found["id"], False
        if status != 404:
            raise RuntimeError(f"looking up product {p['slug']} failed: {status} {found}")
        status, made = ctx.call("POST", f"{base}/api/products", p, token)
        if status == 409:  # created meanwhile by a concurrent run
            status, found = ctx.call("GET", f"{base}/api/products/slug/{p['slug']}", None, token)
            if status == 200:
                return found["id"], False
        if status != 201:
            raise RuntimeError(f"creating product {p['slug']} failed: {status} {made}")
        return made["id"], True

    created, ids = 0, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        try:
            for p, (pid, new) in zip(products, pool.map(one, products)):
                ids[p["slug"]] = pid
                created += new
        except RuntimeError as e:
            sys.exit(f"seed: {e}")
    ctx.state["products"] = ids
    print(f"seed: products: {created} created, {len(products) - created} already there")
