"""A schema-only dump restored into a fresh database extracts to the same metadata.

What must differ is left out of the comparison: the database's name, what depends on data (row
estimates, sizes, whether a materialized view is populated), and what pg_dump only carries with
--create (the database's own comment and access list).
"""

import json
import subprocess

from collect import HOST, run_extract
from conftest import SHOP

RESTORED = "shop_restored"


def normalised(rows):
    result = []
    for row in rows:
        row = {k: v.replace(f".{RESTORED}", f".{SHOP}") if isinstance(v, str) else v for k, v in row.items()}
        if "DATABASE_NAME" in row:
            row["DATABASE_NAME"] = SHOP
        if row.get("OBJECT_TYPE") == "DATABASE":
            if "DESCRIPTION" in row:  # metadata
                row.update(DESCRIPTION="", OBJECT_NAME=SHOP)
            else:  # privileges on the database itself
                continue
        for column in ("ROW_COUNT", "SIZE_BYTES"):
            row.pop(column, None)
        if row.get("OBJECT_TYPE") == "MATERIALIZED_VIEW" and "PROPERTIES" in row:
            properties = json.loads(row["PROPERTIES"])
            properties.pop("is_populated")
            row["PROPERTIES"] = properties
        result.append(row)
    # Rows come in no particular order (the statements do not sort): compare them sorted.
    return sorted(result, key=lambda r: json.dumps(r, sort_keys=True))


def test_dump_and_restore_extract_to_the_same_metadata(shop, shop_extract, tmp_path):
    dump = tmp_path / "shop.sql"
    subprocess.run([str(shop.client("pg_dump")), "--schema-only", "--file", str(dump), SHOP],
                   env=shop.client_env(), check=True, capture_output=True)
    if not shop.execute("SELECT FROM pg_settings WHERE name = 'transaction_timeout'"):
        # A newer pg_dump (the npm servers ship none) sets this 17+ setting; older servers refuse it.
        dump.write_bytes(dump.read_bytes().replace(b"SET transaction_timeout = 0;\n", b""))  # bytes: CRs in names stay
    shop.create_database(RESTORED)
    shop.run_sql_file(dump, RESTORED)
    restored = run_extract(shop, [RESTORED], tmp_path / "out")
    for extract in ("metadata", "linkages", "privileges"):
        original_rows, restored_rows = normalised(shop_extract.rows(extract)), normalised(restored.rows(extract))
        assert len(restored_rows) == len(original_rows), extract
        differences = [(a, b) for a, b in zip(original_rows, restored_rows) if a != b]
        assert differences == [], f"{extract}: {differences[:3]}"
    assert restored.metadata("DATABASE")[0]["OBJECT_ID"] == f'"{HOST}".{RESTORED}'
