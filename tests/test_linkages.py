"""The linkages extract: every edge the catalog proves, on every PostgreSQL version."""

from __future__ import annotations

import json

from collect import HOST
from conftest import SHOP

DB = f'"{HOST}".{SHOP}'


def edges(extract, link_type=None, evidence=None):
    return [r for r in extract.rows("linkages")
            if link_type in (None, r["LINK_TYPE"]) and evidence in (None, r["EVIDENCE"])]


def pairs(extract, link_type, evidence=None):
    return {(r["SOURCE_ID"], r["TARGET_ID"]) for r in edges(extract, link_type, evidence)}


def test_every_edge_points_at_listed_objects(shop_extract):
    listed = {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in shop_extract.metadata()}
    for edge in edges(shop_extract):
        detail = json.loads(edge["DETAIL"] or "{}")
        assert edge["HOST"] == HOST and edge["DATABASE_NAME"] == SHOP and edge["EVIDENCE"]
        if "extension" not in detail:
            assert (edge["SOURCE_TYPE"], edge["SOURCE_ID"]) in listed, edge
            # EXTERNAL_* targets are outside the database (a postgres_fdw table's remote table)
            assert (edge["TARGET_TYPE"], edge["TARGET_ID"]) in listed or edge["TARGET_TYPE"].startswith("EXTERNAL_"), edge


def test_foreign_keys_pair_columns_in_key_order(shop_extract):
    composite = [r for r in edges(shop_extract, "FOREIGN_KEY")
                 if r["SOURCE_ID"].startswith(f"{DB}.inventory.stock_movements.")]
    assert [(r["SOURCE_ID"].rsplit(".", 1)[1], r["TARGET_ID"], json.loads(r["DETAIL"])["position"]) for r in composite] == [
        ("warehouse_id", f"{DB}.inventory.stock_levels.warehouse_id", 1),
        ("product_id", f"{DB}.inventory.stock_levels.product_id", 2),
    ], "one edge per column pair, on the partitioned parent only (not its partitions' copies)"
    assert (f"{DB}.sales.order_lines.order_id", f"{DB}.sales.orders.order_id") in pairs(shop_extract, "FOREIGN_KEY")


def test_partitions_and_inheritance_at_every_level(shop_extract):
    partitions = pairs(shop_extract, "PARTITION_OF")
    assert (f"{DB}.sales.payments_2024_h2", f"{DB}.sales.payments") in partitions
    assert (f"{DB}.sales.payments_2024_h2_p0", f"{DB}.sales.payments_2024_h2") in partitions
    assert (f"{DB}.sales.payments_2024_h2_p0", f"{DB}.sales.payments") not in partitions, "direct edges only"
    assert pairs(shop_extract, "INHERITS") == {(f"{DB}.hr.contractors", f"{DB}.hr.employees")}


def test_sequences_owned_by_columns(shop_extract):
    owned = {(r["SOURCE_ID"], r["TARGET_ID"]): json.loads(r["DETAIL"])["identity"] for r in edges(shop_extract, "OWNED_BY")}
    assert owned[(f"{DB}.sales.orders_order_id_seq", f"{DB}.sales.orders.order_id")] is True
    assert owned[(f"{DB}.sales.customers_customer_id_seq", f"{DB}.sales.customers.customer_id")] is False


def test_triggers_and_types(shop_extract):
    assert (f"{DB}.sales.orders", f"{DB}.sales.log_order_change()") in pairs(shop_extract, "TRIGGERS")
    uses = pairs(shop_extract, "USES_TYPE")
    assert (f"{DB}.sales.orders.status", f"{DB}.sales.order_status") in uses
    assert any(target == f"{DB}.sales.email_address" for _, target in uses), "a column using a domain"


def test_view_reads_from_the_catalog(shop_extract):
    reads = pairs(shop_extract, "LINEAGE", "CATALOG")
    view = f"{DB}.sales.v_customer_order_totals"
    assert (f"{DB}.sales.v_customer_base", view) in reads, "views over views: the upper view is read"
    assert (f"{DB}.sales.orders.status", view) in reads, "a column read in WHERE/JOIN is a read"
    assert all(source != target for source, target in reads), "no self-dependency (PostgreSQL <= 15)"
    calls = pairs(shop_extract, "CALLS")
    assert any(view.endswith("v_product_sales") and "weighted_avg" in fn for view, fn in calls)


def test_sql_standard_function_bodies(shop_extract, shop):
    if shop.version < 14:
        return
    function_reads = {s for s, t in pairs(shop_extract, "LINEAGE", "CATALOG") if "(" in t}
    assert f"{DB}.sales.order_lines" in function_reads
