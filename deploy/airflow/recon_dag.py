"""recon on Airflow: every night at 02:00 UTC, one run in 4 shards.

The shards are one task mapped over the shard indices (dynamic task mapping,
Airflow 2.3+); the merge runs once every mapped shard succeeded. The run id
is the run's logical date ({{ ts_nodash }}, read as UTC), the instant
`fresh` and `age()` measure from. A failed shard is retried on its own
(retries); its part is replaced, byte for byte the same.

Secrets: the signing and token keys are files mounted on the workers (e.g.
from a Kubernetes secret, or written from a Connection by a setup task);
cloud credentials come from the workers' environment or role.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.operators.bash import BashOperator

SHARDS = 4
SPEC = "/etc/recon/callcenter-crm.toml"
OUT = "s3://example-evidence/reports"
RUN_ID = "{{ ts_nodash }}Z"
ENV = {
    "RECON_SIGNING_KEY_FILE": "/etc/recon/keys/recon.key",
    "RECON_TOKEN_KEY_FILE": "/etc/recon/keys/token.key",
    "NO_PROGRESS": "1",
}

with DAG(
    dag_id="recon_nightly",
    schedule="0 2 * * *",
    start_date=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": dt.timedelta(minutes=2)},
    tags=["recon"],
) as dag:
    shards = BashOperator.partial(
        task_id="shard",
        env=ENV,
        append_env=True,
    ).expand(
        bash_command=[
            f"recon run {SPEC} --out {OUT} --run-id {RUN_ID} --shard {i}/{SHARDS} --work-dir /tmp"
            for i in range(SHARDS)
        ]
    )

    # Exit 1 (findings at or above the spec's `fail` threshold) fails the
    # task, as it fails a single `recon run`: the alert a team wants.
    merge = BashOperator(
        task_id="merge",
        env=ENV,
        append_env=True,
        bash_command=f"recon merge --out {OUT} --run-id {RUN_ID} --work-dir /tmp",
    )

    shards >> merge
