"""lava_conn.Host from an installed wheel, against moto: every method, the
CLI's answers and messages for the same calls, refresh, threads, and a
hostile plugin contained."""

import datetime
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lava_conn
from conftest import ROLE, SPECS


def host(worker, **overrides):
    args = {"plugins": worker["plugins"], "connections": worker["connections"], "config": worker["config"]}
    return lava_conn.Host(**{**args, **overrides})


def role_spec():
    return dict(SPECS[0])


def test_the_package_is_the_installed_wheel_not_the_source_tree():
    installed = Path(lava_conn.__file__).resolve()
    assert "site-packages" in installed.parts, installed
    assert Path(lava_conn._native.__file__).suffix == ".so"


def test_validate_takes_a_dict_or_its_text_and_names_each_problems_field(worker):
    h = host(worker)
    assert h.validate(role_spec(), realm="prod") == []
    assert h.validate(json.dumps(role_spec()), realm="prod") == []
    yaml = "conn_id: role\ntype: aws\nenabled: true\nrole_arn: " + ROLE + "\n"
    assert h.validate(yaml, realm="prod") == []
    problems = h.validate({**role_spec(), "region": "mars", "duration": "1 day"}, realm="prod")
    assert {p.field for p in problems} == {"region", "duration"}
    assert all(p.is_error and p.severity == "error" for p in problems)
    assert all(isinstance(p, lava_conn.Problem) for p in problems)


def test_validate_reports_what_the_cli_reports(worker, cli, tmp_path):
    spec = {**role_spec(), "tags": {"k": 1}, "policy": {"Version": "2012-10-17"}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    code, out, _ = cli("validate", "--json", "--realm", "prod", str(path))
    assert code == 1
    [report] = json.loads(out)
    ours = [p.__dict__ for p in host(worker).validate(spec, realm="prod")]
    assert ours == report["problems"]


def test_session_names_are_the_clis(worker, cli, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(role_spec()))
    code, out, err = cli("session-name", "--realm", "prod", "--job-id", "nightly", str(path))
    assert code == 0, err
    assert host(worker).session_name(role_spec(), realm="prod", job_id="nightly") == out.strip().split("\t")[-1]
    assert host(worker).session_name(role_spec()) == "lv-prod-py-job", "realm and job id from the environment"


def test_an_invalid_spec_raises_invalid_spec_with_each_field(worker):
    with pytest.raises(lava_conn.InvalidSpec) as raised:
        host(worker).session_name({**role_spec(), "region": "mars"}, realm="prod", job_id="j")
    assert "region" in str(raised.value) and isinstance(raised.value, lava_conn.Error)


def test_resolve_gives_credentials_served_from_the_cache_and_never_shows_a_secret(worker, moto):
    h = host(worker)
    before = moto.calls().count(f"sts:{ROLE}")
    first = h.resolve("role", realm="prod", job_id="cache")
    again = h.resolve("role", realm="prod", job_id="cache")
    credentials = first.credentials
    assert credentials.access_key_id.startswith("ASIA") and credentials.region == "eu-west-1"
    assert credentials.access_key_id == again.credentials.access_key_id
    assert moto.calls().count(f"sts:{ROLE}") == before + 1, "the second resolve is a cache hit"
    assert credentials.expiration > time.time() + 3600
    shown = repr(first) + repr(credentials) + str(first)
    assert credentials.secret_access_key not in shown and credentials.session_token not in shown
    keys = h.resolve("keys", realm="prod", job_id="cache").credentials
    assert (keys.access_key_id, keys.secret_access_key, keys.expiration) == ("AKIDPY00001", "py-secret", None)
    assert "py-secret" not in repr(keys)


def test_errors_carry_the_clis_messages(worker, cli):
    with pytest.raises(lava_conn.Error) as raised:
        host(worker).resolve("missing", realm="prod", job_id="j")
    code, _, err = cli("resolve", "--connections", str(worker["connections"]), "--realm", "prod",
                       "--job-id", "j", "missing")
    assert code == 2
    assert err.strip() == f"lava-conn: {raised.value}"
    with pytest.raises(lava_conn.Error, match="no connections: pass connections="):
        lava_conn.Host(config=worker["config"]).resolve("role")


def test_a_boto3_session_is_the_assumed_role_with_the_workers_session_name(worker):
    session = host(worker).boto3_session("role", realm="prod", job_id="nightly")
    assert session.region_name == "eu-west-1"
    identity = session.client("sts", region_name="us-east-1").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/py-loader/lv-prod-nightly"


def test_a_boto3_session_refreshes_through_the_host_before_expiry(worker, moto, tmp_path):
    # A 15-minute session is inside botocore's 15-minute refresh window at
    # once, and a 1-second cache lets the host ask AWS again.
    config = tmp_path / "short.toml"
    config.write_text('AWS_ACCESS_KEY_CACHE_TTL = "1s"\ncall_deadline_ms = 300\n')
    session = host(worker, config=config).boto3_session("short", realm="prod", job_id="refresh")
    before = moto.calls().count(f"sts:{ROLE}")
    first = session.get_credentials().get_frozen_credentials()
    time.sleep(1.2)
    second = session.get_credentials().get_frozen_credentials()
    assert first.access_key != second.access_key, "refreshed"
    assert moto.calls().count(f"sts:{ROLE}") == before + 1, "one AssumeRole per refresh, none per use"


def test_a_hundred_threads_share_one_host_and_make_one_aws_call(worker, moto):
    h = host(worker)
    before = moto.calls().count(f"sts:{ROLE}")
    start = threading.Barrier(100)

    def resolve(_):
        start.wait()
        return h.resolve("threads", realm="prod", job_id="threads").credentials.access_key_id

    with ThreadPoolExecutor(100) as pool:
        keys = set(pool.map(resolve, range(100)))
    assert len(keys) == 1
    assert moto.calls().count(f"sts:{ROLE}") == before + 1, "single-flighted"


def test_a_hostile_plugin_is_contained_and_the_next_call_is_served(worker):
    h = host(worker)
    started = time.monotonic()
    with pytest.raises(lava_conn.Error, match="deadline") as raised:
        h.validate(SPECS[4])
    assert "hostile.wasm" in str(raised.value)
    assert time.monotonic() - started < 30
    assert h.validate(role_spec(), realm="prod") == []


def test_prepare_job_gives_execs_environment_and_removes_its_folders(worker, cli, tmp_path):
    # The job's AWS profiles run the installed lava-conn as their
    # credential_process, as `exec` runs itself.
    config = tmp_path / "helper.toml"
    config.write_text(f'credential_helper = "{os.environ["LAVA_CONN_BIN"]}"\n')
    h = host(worker, config=config)
    with h.prepare_job({"aws1": "role", "keys": "keys"}, realm="prod", job_id="exec") as env:
        stand_in = Path(env["LAVA_CONN_AWS1"])
        assert stand_in.exists() and os.access(stand_in, os.X_OK)
        assert env["LAVA_CONNID_KEYS"] == "keys" and env["LAVA_REALM"] == "prod"
        assert "AWS_SECRET_ACCESS_KEY" not in env, "the worker's own keys are not the job's"
        ours = set(env)
    assert not stand_in.exists(), "removed on leaving the block"
    code, out, err = cli("exec", "--connections", str(worker["connections"]), "--realm", "prod",
                         "--job-id", "exec", "--conn", "aws1=role", "--conn", "keys=keys", "--", "env", config=config)
    assert code == 0, err
    execs = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
    connection_related = ("LAVA_", "AWS_")
    assert {n for n in ours if n.startswith(connection_related)} == {n for n in execs if n.startswith(connection_related)}


def test_credentials_expiry_is_seconds_since_the_epoch(worker):
    expiration = host(worker).resolve("role", realm="prod", job_id="j").expiration
    when = datetime.datetime.fromtimestamp(expiration, tz=datetime.timezone.utc)
    assert when > datetime.datetime.now(datetime.timezone.utc)


def test_specs_a_worker_hands_over_are_read_as_validate_reads_them(worker):
    h = host(worker)
    huge = {**role_spec(), "description": "x" * (2 << 20)}
    with pytest.raises(lava_conn.Error, match="more than the 1024 KiB a spec may be"):
        h.prepare_job_specs({"aws1": huge}, realm="prod", job_id="j")
    prepared = h.prepare_job_specs({"aws1": role_spec()}, realm="prod", job_id="j")
    stand_in = Path(dict(prepared.vars)["LAVA_CONN_AWS1"])
    assert stand_in.exists()
    prepared.cleanup()
    assert not stand_in.exists()
