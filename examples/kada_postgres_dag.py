"""Collect PostgreSQL metadata for the K data catalog from many servers, with Apache Airflow 3.x.

Copy this file into your DAGs folder. Put one collector config per server into a folder
(default /etc/kada/postgres; the file name without .json names the source, e.g. sales.json),
each with a "landing" section (docs/landing.md) and the password given by "password_env" or
"password_file", never in the file itself. The workers need kada-collectors-extractors with
the extra of your landing: pip install "kada-collectors-extractors[s3]" (or [azure]).

Each run lists each config's databases, then, per database (or per server with
split="server"), extracts the window since that source's last run, pushes it to the landing area
and saves its HWM there (hwm="variable": in an Airflow Variable kada_hwm_<source>). A source that
fails does not stop the others; a failed push retries alone; a missing database or one without
CONNECT fails at once, without retries. Each server's extracts run in its pool
kada_postgres_<source>; create the pools once (and after adding a server) with the commands
    python -m kada_collectors.extractors.airflow pools /etc/kada/postgres
prints. Written for Airflow 3 (airflow.sdk); the Airflow 2 imports of older templates
(airflow.operators.python_operator, DummyOperator, days_ago) do not exist there.
"""

import os
from datetime import datetime, timedelta, timezone

from kada_collectors.extractors.airflow import collector_dag

dag = collector_dag(
    dag_id="kada_postgres_collector",
    configs=os.environ.get("KADA_POSTGRES_CONFIGS", "/etc/kada/postgres"),
    split=os.environ.get("KADA_POSTGRES_SPLIT", "database"),  # or "server": one extract per server
    hwm=os.environ.get("KADA_POSTGRES_HWM", "landing"),  # or "variable"
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    default_args={"owner": "data-platform"},  # any task setting: email, on_failure_callback, ...
    retries=2,  # for a transient failure; a missing database is not retried
    retry_delay=timedelta(minutes=1),
    execution_timeout=timedelta(hours=2),
)
