"""A Python plugin author's test kit: the author's component in the real
lava-conn host, as a worker runs it, with AWS a moto server on loopback that
records every request the host's grants let through.

    from lava_conn_testkit import TestHost

    POLICY = '[policy.db-login]\\nssm = ["/lava/{realm}/"]\\n'
    with TestHost("db-login.wasm", config=POLICY,
                  parameters={"/lava/prod/warehouse/password": "hunter2"}) as host:
        assert host.validate(spec, realm="prod") == []
        resolved = host.resolve(spec, realm="prod", job_id="j1")
        assert resolved["values"]["PASSWORD"] == "hunter2"
        assert host.aws_calls() == ["ssm:/lava/prod/warehouse/password"]

The host is the `lava-conn` binary (the `lava_conn` argument, else
`$LAVA_CONN_BIN`, else `lava-conn` on `PATH`), run once per call with the
worker configuration `config` (the TOML an operator writes: the
`[policy.<type>]` table that grants the plugin its capabilities). Needs
moto (`pip install 'moto[server]'`) and boto3 in the test's environment,
never in the plugin. This module is host-side: it is not part of
`lava_connector` and never goes into a component.

`aws_calls()` names calls as the Rust kit's `FakeAws` does: `ssm:<name>`,
`secretsmanager:<id>`, `sts:<role>`.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

__all__ = ["TestHost", "HostFailed", "serve_moto", "seed_moto", "recorded_calls"]

# moto's test credentials: no real account is ever reached.
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
})


def seed_moto(endpoint, seed):
    """Seed the moto at `endpoint` from `seed`, a dict of lists: `parameters`
    (`name`, `value`, optional `type` and KMS `key`), `secrets` (`name`, and
    `value` or `binary`), `roles` (names), `kms_aliases`, Redshift `clusters`
    (identifiers) and DynamoDB `tables` (`name`, `items`, keyed by `conn_id`).
    The one seeder of the kit and of lava-conn's own tests."""
    import boto3
    from decimal import Decimal

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
    client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
    kms = client("kms")
    for alias in seed.get("kms_aliases", []):
        key = kms.create_key(Description=alias)["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key)
    ssm = client("ssm")
    for p in seed.get("parameters", []):
        args = {"Name": p["name"], "Value": p["value"], "Type": p.get("type", "SecureString"), "Overwrite": True}
        if "key" in p:
            args["KeyId"] = p["key"]
        ssm.put_parameter(**args)
    iam = client("iam")
    for role in seed.get("roles", []):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=_TRUST, MaxSessionDuration=43200)
    secrets = client("secretsmanager")
    for secret in seed.get("secrets", []):
        if "binary" in secret:
            secrets.create_secret(Name=secret["name"], SecretBinary=secret["binary"].encode())
        else:
            secrets.create_secret(Name=secret["name"], SecretString=secret["value"])
    redshift = client("redshift")
    for cluster in seed.get("clusters", []):
        redshift.create_cluster(
            ClusterIdentifier=cluster, NodeType="dc2.large", MasterUsername="admin",
            MasterUserPassword="Admin-password-1", DBName="dev",
        )
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    for table in seed.get("tables", []):
        t = dynamodb.create_table(
            TableName=table["name"],
            KeySchema=[{"AttributeName": "conn_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "conn_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in table.get("items", []):
            t.put_item(Item=json.loads(json.dumps(item), parse_float=Decimal))


def serve_moto(seed_file):
    """Run moto on a free loopback port, seeded from the JSON in `seed_file`;
    print `ready <port>`, then serve until standard input closes (when the
    process that started it exits, however it exits: no server is left
    behind). `python lava_conn_testkit.py serve-moto SEED.json` runs it."""
    from moto.server import ThreadedMotoServer

    with open(seed_file) as f:
        seed = json.load(f)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    seed_moto(f"http://{host}:{port}", seed)
    print(f"ready {port}", flush=True)
    sys.stdin.read()
    server.stop()


class HostFailed(Exception):
    """lava-conn refused or failed a call; the message is what it printed."""


class TestHost:
    """The real host with one plugin, the author's, and a recording moto."""

    __test__ = False  # not a pytest test class

    def __init__(self, component, config="", parameters=None, secrets=None, roles=(), lava_conn=None):
        self._binary = lava_conn or os.environ.get("LAVA_CONN_BIN") or shutil.which("lava-conn")
        if not self._binary:
            raise HostFailed("no lava-conn binary: pass lava_conn=, set LAVA_CONN_BIN, or put lava-conn on PATH")
        self._folder = tempfile.TemporaryDirectory(prefix="lava-conn-testkit-")
        root = Path(self._folder.name)
        for name in ("plugins", "connections", "home", "moto"):
            (root / name).mkdir()
        shutil.copy(component, root / "plugins" / Path(component).name)
        (root / "lava-conn.toml").write_text(config)
        self._recording = root / "moto" / "recording.jsonl"
        seed = {
            "parameters": [{"name": name, "value": value} for name, value in (parameters or {}).items()],
            "secrets": [{"name": name, "value": value} for name, value in (secrets or {}).items()],
            "roles": [role.rsplit("/", 1)[-1] for role in roles],
        }
        (root / "moto" / "seed.json").write_text(json.dumps(seed))
        # moto in a process of its own (its state and recorder are global to
        # a process), in our folder (it writes there), until its stdin closes.
        with open(root / "moto" / "moto.log", "w") as log:
            self._moto = subprocess.Popen(
                [sys.executable, __file__, "serve-moto", "seed.json"], cwd=root / "moto", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, env={**os.environ, **_AWS_ENV, "MOTO_RECORDER_FILEPATH": str(self._recording)}, text=True,
            )
        ready = self._moto.stdout.readline()
        if not ready.startswith("ready "):
            log = (root / "moto" / "moto.log").read_text()
            self._moto.kill()
            self._moto.wait()
            self._folder.cleanup()
            raise HostFailed(f"moto did not start (is moto[server] installed?): {ready!r}\n{log}")
        self.endpoint = f"http://127.0.0.1:{ready.split()[1]}"
        try:
            self._post("/moto-api/recorder/start-recording")
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop moto and remove the host's folders."""
        try:
            self._moto.stdin.close()
            self._moto.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._moto.kill()
            self._moto.wait()
        finally:
            self._moto.stdout.close()
            self._folder.cleanup()

    def validate(self, spec, realm=None):
        """The spec's problems, as `lava-conn validate --json` gives them:
        dicts with `field`, `severity` and `message`; `[]` when valid."""
        args = ["validate", "--json", self._spec_file(spec)] + (["--realm", realm] if realm else [])
        out = self._run(args, ok=(0, 1))
        [report] = json.loads(out)
        if "error" in report:
            raise HostFailed(report["error"])
        return report["problems"]

    def session_name(self, spec, realm, job_id):
        """The session name the host gives `job_id` in `realm` for `spec`."""
        out = self._run(["session-name", "--realm", realm, "--job-id", job_id, self._spec_file(spec)])
        return out.rstrip("\n").split("\t")[-1]

    def resolve(self, spec, realm, job_id):
        """What a job gets, as `lava-conn resolve --format json` prints it."""
        self._spec_file(spec, folder="connections")
        connections = str(Path(self._folder.name) / "connections")
        args = ["resolve", "--connections", connections, "--realm", realm, "--job-id", job_id, spec["conn_id"]]
        return json.loads(self._run(args + ["--format", "json"]))

    def aws_calls(self):
        """Every AWS call since the host started, in order."""
        return recorded_calls(self._recording)

    def _spec_file(self, spec, folder=""):
        path = Path(self._folder.name) / folder / "spec.json"
        path.write_text(json.dumps(spec))
        return str(path)

    def _run(self, args, ok=(0,)):
        root = Path(self._folder.name)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(root / "home"),
            "AWS_ENDPOINT_URL": self.endpoint,
            "LAVA_CONN_CONFIG": str(root / "lava-conn.toml"),
            "LAVA_CONN_PLUGINS": str(root / "plugins"),
            # A Python plugin compiles once (~15 s), not once per test.
            "LAVA_CONN_COMPILE_CACHE": os.environ.get("LAVA_CONN_COMPILE_CACHE")
            or str(Path.home() / ".cache" / "lava-conn-testkit"),
            **_AWS_ENV,
        }
        done = subprocess.run([self._binary, *args], env=env, capture_output=True, text=True, timeout=120)
        if done.returncode not in ok:
            raise HostFailed(done.stderr.strip() or f"lava-conn exited with {done.returncode}")
        return done.stdout

    def _post(self, path):
        urllib.request.urlopen(urllib.request.Request(self.endpoint + path, method="POST")).close()


def recorded_calls(recording):
    """The calls in a moto recording file (`ssm:<name>`, `secretsmanager:<id>`,
    `sts:<role>`), in order; `[]` before the first."""
    recording = Path(recording)
    lines = recording.read_text().splitlines() if recording.exists() else []
    return [call for call in map(_call_name, filter(None, lines)) if call]


def _call_name(line):
    """One recorded request as the kit names its call, or None."""
    entry = json.loads(line)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        import base64

        body = base64.b64decode(body).decode("utf-8", "replace")
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    target = headers.get("x-amz-target", "")
    if target.endswith(".GetParameter"):
        return "ssm:" + json.loads(body)["Name"]
    if target.endswith(".GetSecretValue"):
        return "secretsmanager:" + json.loads(body)["SecretId"]
    if not target:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(body).items()}
        if form.get("Action") == "AssumeRole":
            return f"sts:{form.get('RoleArn')}"
    return None


if __name__ == "__main__" and sys.argv[1:2] == ["serve-moto"]:
    serve_moto(sys.argv[2])
