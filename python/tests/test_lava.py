"""lava 8.3.0's own worker code with lava_conn.lava installed: `run_job` with
an `exe` job against moto, its connections read by lava from its DynamoDB
table and made by lava-conn; and lava's `get_aws_session`. Runs in lava's
venv (`./dev test` installs the wheel there); elsewhere it is not collected."""

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROLE

lava_lava = pytest.importorskip("lava.lava")
import boto3  # noqa: E402  (lava's own dependency)

import lava_conn  # noqa: E402
import lava_conn.lava  # noqa: E402

REALM = "prod"
PAYLOAD = """#!/bin/sh
# The job: its AWS connection's stand-in runs the AWS CLI as the role.
"$LAVA_CONN_AWS1" sts get-caller-identity --output json > "$1"
printf '%s\\n' "$LAVA_CONN_AWS1" > "$1.stand-in"
"""


@pytest.fixture(scope="module")
def lava_realm(worker, moto, tmp_path_factory):
    """lava's realm in moto: its connections table and a payload bucket."""
    session = boto3.Session(region_name="us-east-1")
    dynamodb = session.resource("dynamodb")
    table = dynamodb.create_table(
        TableName=f"lava.{REALM}.connections",
        KeySchema=[{"AttributeName": "conn_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "conn_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.put_item(Item={"conn_id": "lava-role", "type": "aws", "enabled": True, "role_arn": ROLE,
                         "duration": 3600, "description": "a role, as lava stores it"})
    s3 = session.client("s3")
    s3.create_bucket(Bucket="lava-payloads")
    s3.put_object(Bucket="lava-payloads", Key="payloads/whoami.sh", Body=PAYLOAD.encode())
    config = tmp_path_factory.mktemp("lava-config") / "lava-conn.toml"
    config.write_text(f'[policy.aws]\nroles = ["{ROLE}"]\n')
    served = lava_conn.lava.install(lava_conn.Host(connections="dynamodb", config=config))
    return {"served": served, "realm_info": {"realm": REALM, "s3_payloads": "s3://lava-payloads/payloads",
                                             "s3_temp": "s3://lava-payloads/tmp", "s3_key": "alias/lava-prod-sys"}}


def test_install_serves_every_type_lava_and_lava_conn_both_know(lava_realm):
    import lava.connection.core as core

    served = lava_realm["served"]
    assert {"aws", "psql", "mysql", "ssh", "git", "sqlite3", "generic"} <= set(served)
    assert all(core._CLI_CONN_HANDLERS[t] is lava_conn.lava._cli_connector for t in served)


def test_an_exe_job_run_by_lava_gets_lava_conns_stand_in_for_its_connection(lava_realm, moto, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("LAVA_PAYLOAD_SETTLING_TIME", "0")
    # The stand-in runs the AWS CLI (the test venv's, as a worker's PATH would have it).
    monkeypatch.setenv("PATH", f"{Path(os.environ['LAVA_CONN_MOTO_PYTHON']).parent}:{os.environ['PATH']}")
    out = tmp_path / "identity.json"
    now = datetime.datetime.now(datetime.timezone.utc)
    job_spec = {
        "job_id": "whoami", "run_id": "run-1", "realm": REALM, "worker": "core", "owner": "tests",
        "type": "exe", "enabled": True, "payload": "whoami.sh", "globals": {}, "state": {},
        "parameters": {"connections": {"aws1": "lava-role"}, "args": [str(out)]},
        "ts_dispatch": now, "ts_start": now, "cw_metrics": False,
    }
    workdir = tmp_path / "job"
    workdir.mkdir()
    before = moto.calls().count(f"sts:{ROLE}")
    lava_lava.run_job(job_spec, lava_realm["realm_info"], str(workdir), cleanup=True, dev_mode=True,
                      aws_session=boto3.Session(region_name="us-east-1"))
    identity = json.loads(out.read_text())
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/py-loader/lv-prod-whoami", identity
    assert moto.calls().count(f"sts:{ROLE}") == before + 1, "assumed once, by lava-conn"
    stand_in = Path((tmp_path / "identity.json.stand-in").read_text().strip())
    assert stand_in.name == "aws" and not stand_in.exists(), "lava-conn's stand-in, gone with the job's folder"


def test_lava_itself_names_the_session_lava_in_the_worker_process(lava_realm, moto, tmp_path, monkeypatch):
    """The difference docs/python.md states: lava's own aws connector, called
    in the worker (no LAVA_JOB_ID there), names its session `lava`."""
    import lava.connection.aws

    monkeypatch.delenv("LAVA_JOB_ID", raising=False)
    spec = {"conn_id": "lava-own", "type": "aws", "enabled": True, "role_arn": ROLE}
    script = lava.connection.aws.cli_connect_aws(spec, str(tmp_path), aws_session=boto3.Session(region_name="us-east-1"))
    monkeypatch.setenv("PATH", f"{Path(os.environ['LAVA_CONN_MOTO_PYTHON']).parent}:{os.environ['PATH']}")
    out = subprocess.run([script, "sts", "get-caller-identity", "--output", "json"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out)["Arn"].endswith(":assumed-role/py-loader/lava")


def test_lavas_get_aws_session_is_lava_conns(lava_realm, monkeypatch):
    from lava.connection import get_aws_session

    monkeypatch.setenv("LAVA_JOB_ID", "py-job")
    session = get_aws_session("lava-role", REALM)
    identity = session.client("sts", region_name="us-east-1").get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/py-loader/lv-prod-py-job"), identity
    assert session.get_credentials().method == "lava-conn"


def test_a_spec_lava_conn_refuses_fails_the_job_naming_the_connection(lava_realm, tmp_path):
    import lava.connection.core as core

    with pytest.raises(lava_conn.Error, match="lava-bad") as raised:
        core._CLI_CONN_HANDLERS["aws"](
            {"conn_id": "lava-bad", "type": "aws", "enabled": True, "role_arn": "arn:aws:iam::1:role/x"},
            str(tmp_path),
        )
    assert "role_arn" in str(raised.value)
