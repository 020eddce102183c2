"""lava's worker (``jinlava`` 8.3.0) with its connections from lava-conn's
sandboxed connectors, without changing lava's files.

lava has no plugin or start-up hook, so the adapter works in the worker's
own process, on the two places lava looks connectors up at each call:

- its registry of CLI connectors (``lava.connection.core._CLI_CONN_HANDLERS``),
  which the ``exe``, ``pkg``, ``docker`` and ``sqlc`` handlers go through
  for each of a job's ``connections``: for every type lava-conn serves, the
  job's ``LAVA_CONN_<LABEL>`` becomes lava-conn's stand-in, made from the
  spec lava read by lava-conn's connector in the sandbox, with only what the
  worker's policy grants;
- ``lava.connection.get_aws_session`` (user code's boto3 sessions), which
  becomes a session whose credentials refresh through lava-conn.

Run the worker with the adapter installed::

    python -m lava_conn.lava "$(command -v lava-worker)" --realm prod ...

or install it in code that runs before the worker starts jobs (a
``sitecustomize``)::

    import lava_conn.lava
    lava_conn.lava.install()

The host reads lava's own connections table (``lava.<realm>.connections``)
and is configured as the CLI is (``LAVA_CONN_CONFIG``, …). Types lava-conn
does not serve keep lava's connectors. What lava's job environment then
lacks compared with ``lava-conn exec`` is in ``docs/python.md``.
"""

import contextvars
import functools
import os
import runpy
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import lava_conn

__all__ = ["install", "get_aws_session"]

# The job a handler is running, set around each of lava's job handlers: the
# connectors are called without it, and lava-conn names sessions by it.
_job: contextvars.ContextVar = contextvars.ContextVar("lava_conn_lava_job", default=None)

_lock = threading.Lock()
_host: Optional[lava_conn.Host] = None
# Prepared connections live as long as the job folder lava made them in:
# lava removes the folder after the job, and the entry goes at the next call.
_prepared: Dict[str, List[Any]] = {}


def install(host: Optional[lava_conn.Host] = None, types: Optional[Iterable[str]] = None) -> List[str]:
    """Point this process's lava at lava-conn: ``host`` (default: one reading
    lava's DynamoDB connections, configured as the CLI is) serves ``types``
    (default: every type both lava and lava-conn know). Returns the types
    now served by lava-conn. Installing again replaces the host."""
    import lava.connection
    import lava.connection.aws
    import lava.connection.core
    import lava.lava

    global _host
    with _lock:
        _host = host or lava_conn.Host(connections="dynamodb")
    registry = lava.connection.core._CLI_CONN_HANDLERS
    served = sorted(set(types) if types is not None else set(_host.types()) & set(registry))
    for connector_type in served:
        registry[connector_type] = _cli_connector
    if not getattr(lava.lava.get_job_handler, "_lava_conn", False):
        lava.lava.get_job_handler = _with_job(lava.lava.get_job_handler)
    lava.connection.get_aws_session = get_aws_session
    lava.connection.aws.get_aws_session = get_aws_session
    return served


def get_aws_session(conn_id: str, realm: str, aws_session: Any = None):
    """lava's ``get_aws_session``, through lava-conn: a boto3 session for
    connection ``conn_id``, its credentials refreshed before they expire.
    (``aws_session`` is lava's and unused: the host has the worker's AWS.)"""
    _, job_id = _current_job(realm)
    return _require_host().boto3_session(conn_id, realm=realm, job_id=job_id)


def _cli_connector(conn_spec: Dict[str, Any], workdir: str, aws_session: Any = None) -> str:
    """A lava CLI connector: the path of the stand-in for ``conn_spec``."""
    realm, job_id = _current_job(None)
    prepared = _require_host().prepare_job_specs({"conn": conn_spec}, realm=realm, job_id=job_id, workdir=workdir)
    _keep(workdir, prepared)
    stand_in = dict(prepared.vars).get("LAVA_CONN_CONN")
    if stand_in is None:
        raise lava_conn.Error(
            f"connection `{conn_spec.get('conn_id')}` of type `{conn_spec.get('type')}` gives a job no stand-in "
            "program, which lava's CLI connectors return"
        )
    return stand_in


def _with_job(get_job_handler):
    """lava's ``get_job_handler``, its handlers run with their job known."""

    @functools.wraps(get_job_handler)
    def wrapped(job_type):
        handler = get_job_handler(job_type)

        @functools.wraps(handler)
        def run(*args, **kwargs):
            job_spec = kwargs["job_spec"] if "job_spec" in kwargs else args[0]
            token = _job.set((job_spec["realm"], job_spec["job_id"]))
            try:
                return handler(*args, **kwargs)
            finally:
                _job.reset(token)

        return run

    wrapped._lava_conn = True
    return wrapped


def _current_job(realm: Optional[str]) -> Tuple[str, str]:
    """The running job's realm and id: the handler's, else a job process's
    ``LAVA_REALM``/``LAVA_JOB_ID``; without one, job id ``lava`` (lava names
    such sessions ``lava``)."""
    job = _job.get()
    if job is not None:
        return realm or job[0], job[1]
    realm = realm or os.environ.get("LAVA_REALM")
    if not realm:
        raise lava_conn.Error("lava_conn.lava: no realm for the connection: give it, or set LAVA_REALM")
    return realm, os.environ.get("LAVA_JOB_ID") or "lava"


def _require_host() -> lava_conn.Host:
    if _host is None:
        raise lava_conn.Error("lava_conn.lava is not installed: call lava_conn.lava.install() first")
    return _host


def _keep(workdir: str, prepared: Any) -> None:
    with _lock:
        for gone in [folder for folder in _prepared if not Path(folder).exists()]:
            del _prepared[gone]
        _prepared.setdefault(workdir, []).append(prepared)


def main(argv: List[str]) -> None:
    """``python -m lava_conn.lava WORKER [ARGS...]``: run lava's worker
    script with the adapter installed."""
    if not argv:
        sys.exit("usage: python -m lava_conn.lava /path/to/lava-worker [worker arguments...]")
    served = install()
    print(f"lava_conn.lava: lava-conn serves {', '.join(served)}", file=sys.stderr)
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
