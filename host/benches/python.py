"""The Python package's rows of BENCHMARKS.md: `lava_conn.Host` in-process
(a resolve served from the host's cache, a validate) and lava 8.3.0's own
`get_aws_session` in the same process (served from lava's cache), against one
recording moto. Run by `./dev bench` in lava's venv, with the release wheel
installed there; each figure is written as criterion writes its estimates
(`target/criterion/python/<bench>/new/estimates.json`: the median and a 95 %
interval of the per-call times of 30 rounds). lava's `get_aws_session`
serves credentials from its cache but reads the connection from DynamoDB
(moto) on every call, as it does in a worker, so that report.py reads them
beside the whole-process rows of the same run.

Usage: python host/benches/python.py TARGET_DIR
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/bench"
SPEC = {"conn_id": "bench", "type": "aws", "enabled": True, "role_arn": ROLE}
ROUNDS = 30


def start_moto(folder: Path):
    """The test kit's moto, seeded with lava's connections table and the role."""
    seed = {"roles": ["bench"], "tables": [{"name": "lava.prod.connections", "items": [SPEC]}]}
    (folder / "seed.json").write_text(json.dumps(seed))
    moto = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "sdk/python-testkit/lava_conn_testkit.py"), "serve-moto",
         "seed.json"],
        cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    ready = moto.stdout.readline()
    assert ready.startswith("ready "), ready
    return moto, f"http://127.0.0.1:{ready.split()[1]}"


def per_call(function, calls: int):
    """Seconds per call of `function` over ROUNDS rounds of `calls` calls each."""
    function()
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - started) / calls)
    return sorted(times)


def write_estimate(target: Path, bench: str, times):
    """criterion's estimates.json shape: median and a 95 % interval, in ns."""
    folder = target / "criterion" / "python" / bench / "new"
    folder.mkdir(parents=True, exist_ok=True)
    median = times[len(times) // 2]
    low, high = times[int(len(times) * 0.025)], times[min(len(times) - 1, int(len(times) * 0.975))]
    estimate = {"point_estimate": median * 1e9, "confidence_interval": {"lower_bound": low * 1e9,
                                                                         "upper_bound": high * 1e9}}
    (folder / "estimates.json").write_text(json.dumps({"median": estimate}))
    print(f"python/{bench}: {median * 1e6:.2f} µs", file=sys.stderr)


def main(target: Path):
    with tempfile.TemporaryDirectory(prefix="lava-conn-bench-py-") as scratch:
        moto, endpoint = start_moto(Path(scratch))
        try:
            os.environ.update({
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "LAVA_CONN_COMPILE_CACHE": str(Path(scratch) / "cache"),
            })
            import lava_conn
            from lava.connection import get_aws_session

            config = Path(scratch) / "lava-conn.toml"
            config.write_text(f'[policy.aws]\nroles = ["{ROLE}"]\n')
            host = lava_conn.Host(connections="dynamodb", config=config)
            write_estimate(target, "resolve-cache-hit",
                           per_call(lambda: host.resolve("bench", realm="prod", job_id="bench"), 2_000))
            write_estimate(target, "validate", per_call(lambda: host.validate(SPEC, realm="prod"), 2_000))
            # lava caches the credentials but reads the spec from DynamoDB each time.
            write_estimate(target, "lava-8.3.0-get-aws-session-cache-hit",
                           per_call(lambda: get_aws_session("bench", "prod"), 20))
        finally:
            moto.stdin.close()
            moto.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
