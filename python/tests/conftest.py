"""What the package's tests run against: the installed wheel (never the
source tree), a recording moto on loopback started by the test kit's
`serve-moto`, the `lava-conn` binary for differential checks, and the test
components the Rust build made. `tests/tests/python_package.rs` runs this
suite with those set in the environment:

- LAVA_CONN_KIT: the test kit's folder (sdk/python-testkit);
- LAVA_CONN_MOTO_PYTHON: a Python with moto[server];
- LAVA_CONN_BIN: the lava-conn binary;
- LAVA_CONN_TEST_HOSTILE: the hostile test plugin.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, os.environ["LAVA_CONN_KIT"])
from lava_conn_testkit import recorded_calls  # noqa: E402

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/py-loader"
SPECS = [
    {"conn_id": "role", "type": "aws", "enabled": True, "role_arn": ROLE, "region": "eu-west-1"},
    {"conn_id": "short", "type": "aws", "enabled": True, "role_arn": ROLE, "duration": "15m"},
    {"conn_id": "keys", "type": "aws", "enabled": True, "access_keys": "/lava/prod/aws/keys"},
    {"conn_id": "threads", "type": "aws", "enabled": True, "role_arn": ROLE, "duration": "1h"},
    {"conn_id": "hostile", "type": "hostile", "enabled": True, "attack": "loop"},
]
SEED = {
    "parameters": [{"name": "/lava/prod/aws/keys", "value": "AKIDPY00001,py-secret"}],
    "roles": ["py-loader"],
}


class Moto:
    """moto on loopback, recording every request, until the session ends."""

    def __init__(self, folder: Path):
        (folder / "seed.json").write_text(json.dumps(SEED))
        self.recording = folder / "recording.jsonl"
        env = {**os.environ, "MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(self.recording),
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        kit = Path(os.environ["LAVA_CONN_KIT"]) / "lava_conn_testkit.py"
        self.process = subprocess.Popen(
            [os.environ["LAVA_CONN_MOTO_PYTHON"], str(kit), "serve-moto", "seed.json"], cwd=folder, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        ready = self.process.stdout.readline()
        assert ready.startswith("ready "), f"moto did not start: {ready!r}"
        self.endpoint = f"http://127.0.0.1:{ready.split()[1]}"

    def calls(self):
        return recorded_calls(self.recording)

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def folder():
    path = Path(tempfile.mkdtemp(prefix="lava-conn-py-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def moto(folder):
    moto_folder = folder / "moto"
    moto_folder.mkdir()
    server = Moto(moto_folder)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker(folder, moto):
    """The worker's environment: moto's endpoint and test keys, a
    connections folder, a plugin folder with the hostile plugin, and a
    configuration file; set for the whole session, as a worker's would be."""
    connections = folder / "connections"
    connections.mkdir()
    (connections / "specs.json").write_text(json.dumps(SPECS))
    plugins = folder / "plugins"
    plugins.mkdir()
    shutil.copy(os.environ["LAVA_CONN_TEST_HOSTILE"], plugins / "hostile.wasm")
    config = folder / "lava-conn.toml"
    config.write_text('call_deadline_ms = 300\n')
    env = {
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "LAVA_REALM": "prod",
        "LAVA_JOB_ID": "py-job",
    }
    os.environ.update(env)
    return {"connections": connections, "plugins": plugins, "config": config, "env": env}


@pytest.fixture()
def cli(worker):
    """`lava-conn` with the same worker settings: (exit code, stdout, stderr)."""

    def run(*args, config=None):
        command = [os.environ["LAVA_CONN_BIN"], "--config", str(config or worker["config"]),
                   "--plugins", str(worker["plugins"]), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    return run
