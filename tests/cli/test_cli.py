"""The `backorder` command line, run as a real subprocess against a fresh SQLite or PostgreSQL database."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.store import models as t
from domain.store.db import open_database

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = next((p for p in (ROOT.parent / "shared" / "data" / "online-retail-sample.csv.gz",  # beside the clone
                           Path("/work/shared/data/online-retail-sample.csv.gz"))  # CI's clean clone elsewhere
               if p.exists()), ROOT / "missing.csv.gz")


def run(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BACKORDER_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def test_migrate_is_idempotent(db_url):
    assert run(db_url, "migrate").returncode == 0
    again = run(db_url, "migrate")
    assert again.returncode == 0, again.stderr
    assert "migrations applied" in again.stdout


async def test_token_create_list_revoke(db_url):
    created = run(db_url, "token", "create", "--role", "agent", "--name", "Support desk")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("bd_") and len(secret) > 30
    token_id = created.stdout.split()[1]
    listed = run(db_url, "token", "list")
    assert f"{token_id}\tagent\tSupport desk" in listed.stdout
    async with open_database(db_url, apply_migrations=False):
        row = await t.ApiToken.get(id=token_id)
        assert secret not in row.token_hash  # only a hash is stored
    assert run(db_url, "token", "revoke", token_id).returncode == 0
    assert token_id not in run(db_url, "token", "list").stdout
    assert run(db_url, "token", "revoke", token_id).returncode == 1


def test_token_create_refuses_unknown_role(tmp_path):
    result = run(f"sqlite://{tmp_path / 'x.db'}", "token", "create", "--role", "root", "--name", "x")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_export_schema_matches_committed_sdl(tmp_path):
    out = tmp_path / "schema.graphql"
    assert run(f"sqlite://{tmp_path / 'x.db'}", "export-schema", "-o", str(out)).returncode == 0
    assert out.read_text() == (ROOT / "schema.graphql").read_text()


async def test_import_products_stock_and_orders(db_url, tmp_path):
    products = tmp_path / "products.csv"
    products.write_text("sku,name,price,currency,backorder_policy\nA-1,Alpha,2.50,GBP,ALLOW\nB-2,Beta,3.00,GBP,DENY\n")
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,quantity,location\nA-1,5,MAIN\nB-2,2,STORE1\n")
    orders = tmp_path / "orders.csv.gz"
    with gzip.open(orders, "wt") as handle:
        handle.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                     "1001,A-1,ALPHA,4,2010-12-01T08:26:00,2.50,17850,United Kingdom\n"
                     "1001,C-3,GAMMA THING,1,2010-12-01T08:26:00,1.25,17850,United Kingdom\n"
                     "1002,A-1,ALPHA,3,2010-12-01T09:00:00,2.50,13047,United Kingdom\n"
                     "C1003,A-1,ALPHA,-1,2010-12-01T10:00:00,2.50,13047,United Kingdom\n"
                     "1004,B-2,BETA,5,2010-12-01T11:00:00,3.00,12583,France\n")
    assert run(db_url, "import", "products", str(products)).returncode == 0
    store1 = tmp_path / "store1.csv"
    store1.write_text("sku,quantity,location\nB-2,2,STORE1\n")
    refused = run(db_url, "import", "stock", str(store1))  # STORE1 is not one of the shop's locations yet
    assert refused.returncode == 1 and "'STORE1' is not one of the shop's locations" in refused.stderr
    assert "upsertLocation" not in refused.stderr  # the command line has no such thing: the domain's words only
    locations = tmp_path / "locations.csv"
    locations.write_text("code,name\nSTORE1,First store\nstore1,Store one\nSTORE2,Second\n")
    imported = run(db_url, "import", "locations", str(locations))
    # a code repeated (in any case) is one location, not two: the count says what is now set up
    assert imported.returncode == 0 and imported.stdout.splitlines()[-1] == (
        "2 locations set up (1 row repeated a code: the last row's name holds)")
    assert run(db_url, "import", "stock", str(stock)).returncode == 0
    result = run(db_url, "import", "orders", str(orders))
    assert result.returncode == 0, result.stderr
    # 1001 and 1002 placed; C1003 is a return; 1004 asks 5 of a DENY product with 2 in stock: skipped
    assert "2 orders imported, 2 lines backordered" in result.stdout
    assert "invoice 1004 skipped" in result.stderr
    async with open_database(db_url, apply_migrations=False):
        assert await t.Order.all().count() == 2
        assert await t.Product.filter(sku="C-3").exists()  # unknown SKUs become products
        a1 = await t.StockLevel.get(sku="A-1", location="MAIN")
        assert (a1.on_hand, a1.allocated) == (5, 5)
        waiting = await t.Backorder.filter(sku="A-1").values_list("customer_email", "quantity")
        assert waiting == [("customer-13047@example.com", 2)]
    # importing the same file again places nothing twice (idempotency keys)
    again = run(db_url, "import", "orders", str(orders))
    async with open_database(db_url, apply_migrations=False):
        assert await t.Order.all().count() == 2, again.stdout


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared order sample is not on this machine")
async def test_import_real_order_sample(db_url):
    result = run(db_url, "import", "orders", str(SAMPLE), "--limit", "40")
    assert result.returncode == 0, result.stderr
    assert "40 orders imported" in result.stdout


async def test_a_bad_file_is_refused_with_its_line_and_nothing_is_written(db_url, tmp_path):
    bad_price = tmp_path / "bad-price.csv"
    bad_price.write_text("sku,name,price\nA-1,Alpha,2.50\nB-2,Beta,three\n")
    missing = tmp_path / "missing.csv"
    missing.write_text("sku,title\nA-1,Alpha\n")
    bad_qty = tmp_path / "bad-qty.csv"
    bad_qty.write_text("sku,quantity\nA-1,5\nA-1,lots\n")
    for kind, path, says in [("products", bad_price, "line 3: price 'three' is not a number"),
                             ("products", missing, "missing column(s) name, price"),
                             ("stock", bad_qty, "line 3: quantity 'lots' is not a whole number")]:
        result = run(db_url, "import", kind, str(path))
        assert result.returncode != 0 and says in result.stderr, (kind, result.stderr)
        assert "Traceback" not in result.stderr
    async with open_database(db_url, apply_migrations=False):
        assert await t.Product.all().count() == 0
        assert await t.StockLevel.all().count() == 0


async def test_reimporting_names_and_prices_keeps_what_the_file_does_not_say(db_url, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("sku,name,price,backorder_policy,lead_time_days\nA-1,Alpha,2.50,DENY,9\nB-2,Beta,3.00,,\n")
    assert run(db_url, "import", "products", str(first)).returncode == 0
    async with open_database(db_url, apply_migrations=False):
        await t.Product.filter(sku="A-1").update(substitutes=["B-2"], backorder_limit=4,
                                                 allocation_policy="FAIR_SHARE", customer_cap_per_receipt=2)
    second = tmp_path / "second.csv"
    second.write_text("sku,name,price\na-1,Alpha lamp,2.75\n")  # a lower-case SKU is the same product
    assert run(db_url, "import", "products", str(second)).returncode == 0
    async with open_database(db_url, apply_migrations=False):
        a1 = await t.Product.get(sku="A-1")
        assert (a1.name, str(a1.price), a1.backorder_policy, a1.lead_time_days, a1.substitutes, a1.backorder_limit) \
            == ("Alpha lamp", "2.75", "DENY", 9, ["B-2"], 4)
        assert (a1.allocation_policy, a1.fair_share_minimum, a1.customer_cap_per_receipt) == ("FAIR_SHARE", None, 2)


async def test_the_import_refuses_what_the_api_refuses_with_the_same_words(db_url, tmp_path):
    """Field limits live in the domain: a price past NUMERIC(12, 2) or a path for a location is refused by the
    import as by GraphQL (tests/api/test_field_limits.py), and nothing of the refused line is written."""
    products = tmp_path / "products.csv"
    products.write_text("sku,name,price\nA-1,Alpha,2.50\nB-2,Beta,1e30\n")
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,quantity,location\nA-1,5,MAIN\nA-1,7,../../etc/passwd\n")
    result = run(db_url, "import", "products", str(products))
    assert result.returncode == 1
    assert "line 3: B-2 not imported: an amount of money must be at most 9,999,999,999.99" in result.stderr
    result = run(db_url, "import", "stock", str(stock))
    assert result.returncode == 1
    assert "line 3: A-1 not received: '../../etc/passwd' is not a valid location code" in result.stderr
    async with open_database(db_url, apply_migrations=False):
        assert await t.Product.filter(sku="B-2").count() == 0
        assert [(s.location, s.on_hand) for s in await t.StockLevel.all()] == [("MAIN", 5)]
