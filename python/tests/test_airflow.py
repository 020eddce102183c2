"""Airflow's AWS hooks with `[aws] session_factory = lava_conn.airflow.SessionFactory`:
the real provider (apache-airflow-providers-amazon) against moto, its
connection from an `AIRFLOW_CONN_*` variable, compared with the session
Airflow's own factory makes for the same connection. Runs in the venv that
has Airflow (`./dev test` makes it); elsewhere it is not collected."""

import json
import os

import pytest

from conftest import ROLE

# The provider reads the factory when its hooks module is first imported.
os.environ["AIRFLOW__AWS__SESSION_FACTORY"] = "lava_conn.airflow.SessionFactory"
base_aws = pytest.importorskip("airflow.providers.amazon.aws.hooks.base_aws")


def grant(tmp_path, monkeypatch, policy):
    """lava-conn's configuration for the factory's host: `policy`, a fresh host."""
    import lava_conn.airflow

    config = tmp_path / "lava-conn.toml"
    config.write_text(policy)
    monkeypatch.setenv("LAVA_CONN_CONFIG", str(config))
    monkeypatch.setattr(lava_conn.airflow, "_host", None)


@pytest.fixture()
def airflow_connection(worker, tmp_path, monkeypatch):
    grant(tmp_path, monkeypatch, f'[policy.airflow-aws]\nroles = ["{ROLE}"]\n')
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    extra = {"role_arn": ROLE, "region_name": "eu-west-1"}
    monkeypatch.setenv("AIRFLOW_CONN_ETL_ROLE", json.dumps({"conn_type": "aws", "extra": extra}))
    return "etl_role"


def test_airflow_uses_the_factory_named_in_its_configuration():
    assert base_aws.SessionFactory.__module__ == "lava_conn.airflow"


def test_a_role_connection_is_the_assumed_role_with_airflows_session_name(airflow_connection, moto):
    before = moto.calls().count(f"sts:{ROLE}")
    hook = base_aws.AwsBaseHook(aws_conn_id=airflow_connection, client_type="sts")
    session = hook.get_session()
    ours = session.client("sts").get_caller_identity()["Arn"]
    assert moto.calls().count(f"sts:{ROLE}") == before + 1, "assumed through lava-conn"
    # Airflow's own factory, for the same connection: the same role and session name.
    theirs = base_aws.BaseSessionFactory(conn=hook.conn_config).create_session()
    assert ours == theirs.client("sts").get_caller_identity()["Arn"]
    assert ours.endswith(":assumed-role/py-loader/airflow_etl_role"), ours
    assert session.region_name == "eu-west-1"


def test_a_role_the_workers_policy_does_not_grant_is_refused_naming_the_setting(
    airflow_connection, moto, tmp_path, monkeypatch
):
    grant(tmp_path, monkeypatch, "")
    before = moto.calls().count(f"sts:{ROLE}")
    with pytest.raises(Exception, match=r"allow it with `roles` under `\[policy.airflow-aws\]`"):
        base_aws.AwsBaseHook(aws_conn_id=airflow_connection, client_type="sts").get_session()
    assert moto.calls().count(f"sts:{ROLE}") == before, "refused before any AWS call"


def test_deferrable_sessions_are_refused_with_the_reason(airflow_connection):
    from lava_conn.airflow import SessionFactory

    conn = base_aws.AwsBaseHook(aws_conn_id=airflow_connection).conn_config
    with pytest.raises(Exception, match="deferrable"):
        SessionFactory(conn=conn).create_session(deferrable=True)
