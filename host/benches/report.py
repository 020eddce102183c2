#!/usr/bin/env python3
"""Write BENCHMARKS.md from the latest `cargo bench --bench host` run.

Reads criterion's estimates (target/criterion/<group>/<bench>/new/estimates.json)
and the facts the bench measured once (target/criterion/lava-conn-facts.json).
Nothing in the table is typed by hand: a figure missing from the run is shown
as missing. Usage: report.py TARGET_DIR > BENCHMARKS.md
"""

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

target = sys.argv[1] if len(sys.argv) > 1 else "target"
criterion = os.path.join(target, "criterion")


# Only estimates this run wrote count: criterion leaves older ones on disk,
# and a filtered or failed run must not publish them under a new commit.
RUN_STARTED = float(os.environ.get("LAVA_BENCH_STARTED", "0"))


def estimate(group, bench):
    """Median and its 95 % confidence bounds, in seconds, or None when this run did not measure it."""
    path = os.path.join(criterion, group, bench, "new", "estimates.json")
    if not os.path.exists(path) or os.path.getmtime(path) < RUN_STARTED:
        return None
    with open(path) as f:
        median = json.load(f)["median"]
    ci = median["confidence_interval"]
    return median["point_estimate"] / 1e9, ci["lower_bound"] / 1e9, ci["upper_bound"] / 1e9


def duration(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}" if unit != "µs" else f"{seconds / scale:.1f} µs"
    return f"{seconds * 1e9:.0f} ns"


facts_path = os.path.join(criterion, "lava-conn-facts.json")
if os.path.getmtime(facts_path) < RUN_STARTED:
    sys.exit(f"{facts_path} is from an earlier run: run the whole bench (./dev bench)")
with open(facts_path) as f:
    facts = json.load(f)

rows = []  # (item, measure, figure, ratio, target, met)


def timed(item, measure, group, bench, ratio="", goal="", met=""):
    e = estimate(group, bench)
    figure = f"{duration(e[0])} ({duration(e[1])} – {duration(e[2])})" if e else "not measured"
    rows.append((item, measure, figure, ratio, goal, met))
    return e[0] if e else None


def yes(ok):
    return "yes" if ok else "**no**"


native = timed("1", "validate, same guest logic compiled natively", "validate", "native", "1×")
sandboxed = estimate("validate", "sandboxed")
timed("1", "validate, sandboxed, fresh pooled instance per call", "validate", "sandboxed",
      f"{sandboxed[0] / native:.1f}× native" if sandboxed and native else "",
      "≤ 10 µs (issue 15)", yes(sandboxed and sandboxed[0] <= 10e-6))

pooled_estimate = estimate("floor", "pooling")
pooled = timed("2", "fresh instance + empty call (the empty test plugin), pooling allocator", "floor", "pooling", "1×",
               "≤ 12 µs", yes(pooled_estimate and pooled_estimate[0] <= 12e-6))
on_demand = estimate("floor", "on-demand")
timed("2", "fresh instance + empty call, on-demand allocator", "floor", "on-demand",
      f"{on_demand[0] / pooled:.1f}× pooling" if on_demand and pooled else "")

hit = estimate("resolve", "cache-hit")
timed("3", "resolve, cache hit", "resolve", "cache-hit", "", "≤ 1 µs", yes(hit and hit[0] <= 1e-6))
by_id = estimate("resolve", "cache-hit-by-conn-id")
timed("3", "resolve by conn id from DynamoDB, cache hit (spec and credentials from memory)", "resolve",
      "cache-hit-by-conn-id", f"{by_id[0] / hit[0]:.2f}× the cache hit" if by_id and hit else "", "≤ 2×",
      yes(by_id and hit and by_id[0] <= 2 * hit[0]))
logic_native = timed("3", "resolve without network (instant backend), guest logic compiled natively",
                     "resolve-logic", "native", "1×")
logic_sandboxed = estimate("resolve-logic", "sandboxed")
timed("3", "resolve without network (instant backend), through the sandbox", "resolve-logic", "sandboxed",
      f"{logic_sandboxed[0] / logic_native:.1f}× native" if logic_sandboxed and logic_native else "")
logic_audited = estimate("resolve-logic", "sandboxed-audited")
timed("3", "… with the audit trail written (one event per capability call, formatted into a sink)",
      "resolve-logic", "sandboxed-audited",
      f"+{1e6 * (logic_audited[0] - logic_sandboxed[0]):.1f} µs over the sandbox"
      if logic_audited and logic_sandboxed else "")
logic_grants = estimate("resolve-logic", "grants-only")
timed("3", "… of which the grants: the worker's policy for the type intersected with what the plugin declares",
      "resolve-logic", "grants-only",
      f"{100 * logic_grants[0] / logic_sandboxed[0]:.1f} % of the sandboxed resolve"
      if logic_grants and logic_sandboxed else "")
uncached = timed("3", "resolve, uncached, against moto", "resolve", "uncached", "1×")
host_part = estimate("resolve", "uncached-host-part")
share = host_part[0] / uncached if host_part and uncached else None
timed("3", "… of which the host (the rest is inside the SDK call)", "resolve", "uncached-host-part",
      f"{100 * share:.1f} % of uncached" if share is not None else "", "≤ 2 %",
      yes(share is not None and share <= 0.02))
after_wait = estimate("resolve", "uncached-host-part-after-a-wait")
timed("3", "… the host's part of the same resolve with the AWS call replaced by a 2 ms wait on the calling "
      "thread (no SDK, no emulator)", "resolve", "uncached-host-part-after-a-wait",
      f"{after_wait[0] / logic_sandboxed[0]:.1f}× without the wait; the real call's is "
      f"{host_part[0] / after_wait[0]:.1f}× this" if after_wait and logic_sandboxed and host_part else "")
sdk = estimate("resolve", "sdk-assume-role")
timed("3", "the same AssumeRole with the SDK alone", "resolve", "sdk-assume-role",
      f"{sdk[0] / uncached:.2f}× uncached" if sdk and uncached else "")

lava = timed("4", "lava 8.3.0 `get_aws_session`, whole process", "process", "lava-8.3.0-get-aws-session", "1×")
for bench, measure, goal in (
    ("lava-conn-resolve-warm", "`lava-conn resolve`, whole process, warm compile cache", "≥ 30× faster"),
    ("lava-conn-resolve-cold", "`lava-conn resolve`, whole process, cold compile cache", ""),
):
    e = estimate("process", bench)
    speedup = lava / e[0] if e and lava else None
    timed("4", measure, "process", bench, f"{speedup:.1f}× faster than lava" if speedup else "",
          goal, yes(speedup and speedup >= 30) if goal else "")
for command in ("resolve", "validate"):
    warm, cold = estimate("process", f"lava-conn-{command}-warm"), estimate("process", f"lava-conn-{command}-cold")
    ratio = cold[0] / warm[0] if warm and cold else None
    timed("4", f"… `lava-conn {command}` cold against warm (an empty compile cache: the built-in precompiled at build time)",
          "process", f"lava-conn-{command}-cold", f"{ratio:.2f}× warm" if ratio else "", "≤ 3× warm",
          yes(ratio and ratio <= 3))
floor = estimate("process", "sdk-floor")
resolve_warm = estimate("process", "lava-conn-resolve-warm")
timed("4", "the floor: the same GetItem and AssumeRole with the AWS SDK alone, whole Rust process", "process",
      "sdk-floor", f"`lava-conn resolve` warm is {resolve_warm[0] / floor[0]:.2f}× this" if floor and resolve_warm else "",
      "resolve ≤ 1.3×", yes(floor and resolve_warm and resolve_warm[0] <= 1.3 * floor[0]))
resolve_none = estimate("process", "lava-conn-resolve-warm")
validate_none = estimate("process", "lava-conn-validate-warm")
for n in (10, 100):
    for command, none in (("resolve", resolve_none), ("validate", validate_none)):
        e = estimate("process", f"lava-conn-{command}-warm-{n}-plugins")
        ratio = e[0] / none[0] if e and none else None
        goal = "≤ 1.2× none" if command == "resolve" and n == 100 else ""
        timed("4", f"`lava-conn {command}`, whole process, warm, with {n} drop-in plugins present (none needed)",
              "process", f"lava-conn-{command}-warm-{n}-plugins", f"{ratio:.2f}× with none" if ratio else "",
              goal, yes(ratio and ratio <= 1.2) if goal else "")
validate_process = estimate("process", "lava-conn-validate-warm")
timed("4", "`lava-conn validate` of one spec, whole process, warm compile cache", "process",
      "lava-conn-validate-warm", "", "≤ 10 ms", yes(validate_process and validate_process[0] <= 10e-3))

n = facts["concurrent_resolves"]
concurrent = timed("5", f"{n:,} concurrent resolves over 10 connections, wall", "concurrency",
                   f"resolves-over-10-connections/{n}")
sts_calls = facts["concurrent_sts_calls"]
rows.append(("5", "… STS calls made (as moto recorded them)", str(sts_calls), "", "exactly 10", yes(sts_calls == 10)))
for fact, what in (("by_id_get_items", "GetItems"), ("by_id_assume_roles", "AssumeRoles")):
    count = facts[fact]
    rows.append(("5", f"1000 concurrent resolves by conn id over 10 connections in DynamoDB: {what} (moto)",
                 str(count), "", "exactly 10", yes(count == 10)))
failed = facts["concurrent_failed"]
rows.append(("5", "… resolves that failed", str(failed), "", "none", yes(failed == 0)))
workers, threads = facts["concurrent_runtime_workers"], facts["concurrent_runtime_threads"]
rows.append(("5", "… threads the runtime started for the round (workers and blocking pool)", str(threads),
             f"{workers} workers, {threads - workers} blocking-pool threads", "", ""))
if concurrent and uncached:
    rows.append(("5", f"… throughput (calls answered; 10 rounds shared by {n // 10:,} callers each)",
                 f"{n / concurrent:,.0f} calls/s",
                 f"{concurrent / (10 * uncached):.2f}× the time of 10 serial uncached resolves", "", ""))
cpu, wall = facts["concurrent_host_cpu_ms"], facts["concurrent_wall_ms"]
cores = os.cpu_count() or 1
rows.append(("5", "… CPU the host used in one round (moto excluded)", f"{cpu:.1f} ms in {wall:.1f} ms wall",
             f"{1000 * cpu / n:.1f} µs per resolve, {100 * cpu / (cores * wall):.0f} % of the {cores} cores",
             "", ""))
peak = facts["concurrent_peak_rss_kib"]
before = facts["concurrent_rss_before_kib"]
rows.append(("5", "… peak RSS of the bench process during the round", f"{peak / 1024:.1f} MiB",
             f"+{(peak - before) / 1024:.1f} MiB over before", "", ""))

builtin = facts["rss_builtin_kib"]
plus = facts["rss_builtin_plus_10_kib"]
rows.append(("6", "peak RSS of `lava-conn plugins`, the built-ins only (aws and lava's family: all loaded to list them)",
             f"{builtin / 1024:.1f} MiB", "1×", "", ""))
rows.append(("6", f"… with 10 more plugins ({facts['plugin_bytes'] / 1024:.0f} KiB components)",
             f"{plus / 1024:.1f} MiB", f"+{(plus - builtin) / 10 / 1024:.2f} MiB per plugin", "", ""))
rows.append(("6", "memory per live instance (48 held mid-resolve)", f"{facts['instance_kib']} KiB", "", "", ""))

# (7) The `db-login` example, written in Python (componentize-py), beside the Rust rows.
python = estimate("validate", "python")
timed("7", "validate, sandboxed, fresh pooled instance per call: the Python connector (`db-login`)", "validate",
      "python", f"{python[0] / sandboxed[0]:.0f}× the Rust one (row 1)" if python and sandboxed else "")
validate_warm = estimate("process", "lava-conn-validate-warm")
for bench, measure, against in (
    ("lava-conn-validate-warm-python-present",
     "`lava-conn validate` of an aws spec, whole process, warm, the Python plugin in the folder (unused)",
     "without it"),
    ("lava-conn-validate-warm-python-used", "`lava-conn validate` of a `db-login` spec, whole process, warm",
     "an aws spec's"),
):
    e = estimate("process", bench)
    timed("7", measure, "process", bench, f"{e[0] / validate_warm[0]:.2f}× {against} (row 4)"
          if e and validate_warm else "")
rows.append(("7", f"the Python component, size (CPython inside)", f"{facts['python_component_bytes'] / 1e6:.1f} MB",
             f"{facts['python_component_bytes'] / facts['plugin_bytes']:.0f}× the airflow-aws component", "", ""))
rows.append(("7", "its first load with an empty compile cache (`lava-conn describe`: compile and store), median of 3",
             f"{facts['python_cold_compile_seconds']:.2f} s",
             f"peak RSS {facts['python_cold_compile_peak_kib'] / 1024:.0f} MiB", "", ""))
rows.append(("7", "… its compiled artefact in the cache", f"{facts['python_artefact_bytes'] / 1e6:.1f} MB", "", "", ""))

# (8) Reading a connection folder (issue 27's caps: a size cap per file,
# nesting bounded before parsing): whole `lava-conn resolve` processes.
one_spec = timed("8", "`lava-conn resolve` from a folder of one spec, whole process, warm", "spec-folder",
                 "one-spec", "1×")
one_peak = facts["spec_folder_one_spec_peak_kib"]
rows.append(("8", "… its peak RSS", f"{one_peak / 1024:.1f} MiB", "", "", ""))
for name, label in (("1mb", "1 MB"), ("10mb", "10 MB")):
    e = estimate("spec-folder", name)
    size = facts[f"spec_folder_{name}_bytes"]
    timed("8", f"… from a folder of {label} of specs ({size / 1e6:.1f} MB of JSON in files of ≤ 512 KiB)",
          "spec-folder", name, f"+{1e3 * (e[0] - one_spec):.0f} ms over one spec" if e and one_spec else "")
    peak = facts[f"spec_folder_{name}_peak_kib"]
    rows.append(("8", "… its peak RSS", f"{peak / 1024:.1f} MiB",
                 f"+{(peak - one_peak) / 1024:.1f} MiB over one spec, {(peak - one_peak) * 1024 / size:.1f} bytes "
                 "per byte of specs", "", ""))

# (9) Plugin sizes, as their authors build them (`cargo build --release
# --target wasm32-wasip2`, the template's release profile): the SDK's cost.
template = facts["template_bytes"]
rows.append(("9", "the plugin template (`ssm-secret`, typed spec), component size", f"{template / 1e3:.0f} KB",
             "", "≤ 250 KB", yes(template <= 250_000)))
rows.append(("9", "… the docs' `http-basic` example", f"{facts['http_basic_bytes'] / 1e3:.0f} KB",
             f"{facts['http_basic_bytes'] / template:.2f}× the template", "", ""))

# (10) lava's connector family, built in: each family's validate and its
# resolve without network (SSM answered at once), through the sandbox.
for family in ("postgres", "mysql", "oracle", "ssh", "sqlite3", "generic"):
    e = estimate("family", f"validate-{family}")
    timed("10", f"lava's `{family}`: validate, sandboxed", "family", f"validate-{family}",
          f"{e[0] / sandboxed[0]:.2f}× aws's (row 1)" if e and sandboxed else "")
    timed("10", f"… resolve without network (SSM answered at once), sandboxed", "family", f"resolve-{family}",
          f"aws's is {logic_sandboxed[0] * 1e6:.1f} µs (row 3)" if logic_sandboxed else "")

# (11) From Python: lava_conn.Host in-process (the release wheel), against
# the same calls through the CLI (row 4) and lava's own get_aws_session in
# the same process.
cli_resolve, cli_validate = estimate("process", "lava-conn-resolve-warm"), estimate("process", "lava-conn-validate-warm")
py_resolve = estimate("python", "resolve-cache-hit")
speedup = cli_resolve[0] / py_resolve[0] if cli_resolve and py_resolve else None
timed("11", "`Host.resolve` from Python, cache hit (in-process, GIL released)", "python", "resolve-cache-hit",
      f"{speedup:,.0f}× faster than `lava-conn resolve` (row 4)" if speedup else "",
      "≥ 100× faster than a CLI call", yes(speedup and speedup >= 100))
py_validate = estimate("python", "validate")
timed("11", "`Host.validate` from Python (in-process)", "python", "validate",
      f"{cli_validate[0] / py_validate[0]:,.0f}× faster than `lava-conn validate` (row 4)"
      if cli_validate and py_validate else "")
lava_in_process = estimate("python", "lava-8.3.0-get-aws-session-cache-hit")
timed("11", "lava 8.3.0 `get_aws_session` in the same process, its credential cache hit (it reads the spec "
      "from DynamoDB each call)", "python", "lava-8.3.0-get-aws-session-cache-hit",
      f"`Host.resolve` is {lava_in_process[0] / py_resolve[0]:,.0f}× faster" if lava_in_process and py_resolve else "")

commit = os.environ.get("LAVA_BENCH_COMMIT") or subprocess.run(
    ["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
with open("/proc/meminfo") as f:
    mem_gib = int(f.readline().split()[1]) / 1024 / 1024
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")

print("# Benchmarks\n")
print(f"Generated by `./dev bench` (`host/benches/report.py`) on "
      f"{datetime.now(timezone.utc):%Y-%m-%d} from commit {commit}.  ")
print(f"Machine: {os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, {platform.system()} {platform.release()}, {rustc}.\n")
print("""Method: `cargo bench --bench host` (criterion, release build). Times are criterion's
median with its 95 % confidence interval in brackets. Ratios compare rows measured in the
same run, on the same machine, against the same moto server on loopback (which shares the
machine's cores with the host: emulator time is part of every resolve). A figure this run
did not measure is shown as not measured, never taken from an earlier run. The host's part of an
uncached resolve is the same calls' time less the time spent inside the AWS SDK backend,
measured around each capability call; with the 2 ms wait in its place, the time less the
wait, measured the same way. Whole processes are `lava-conn` (release) and lava
8.3.0 (`jinlava` from PyPI, `.venv-lava`) resolving the same DynamoDB connection; a cold
compile cache is a new empty folder for each run. Memory figures are measured once: peak
RSS from `/proc/self/status` (reset with `clear_refs`) and from `wait4` for child
processes; the 10 plugins are the airflow-aws component with its type renamed
`airflow-000`, `airflow-001`, …; the Python connector is `examples/python-connector`
built by componentize-py 0.25.1. Row 11 is `host/benches/python.py` in lava's venv with
the release wheel: 30 rounds of per-call times, median and 95 % interval.
""")
print("| # | measure | figure | ratio | target | met |")
print("|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
