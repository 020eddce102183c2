"""lava-conn in-process: the WebAssembly-sandboxed connector host, embedded
in a Python worker, with the configuration the ``lava-conn`` CLI reads.

    import lava_conn

    host = lava_conn.Host(connections="conns/")          # or LAVA_CONN_CONNECTIONS
    host.validate({"conn_id": "aws1", "type": "aws", "enabled": True,
                   "role_arn": "arn:aws:iam::123456789012:role/loader"}, realm="prod")
    session = host.boto3_session("aws1", realm="prod", job_id="nightly")
    with host.prepare_job({"aws1": "aws1"}, realm="prod", job_id="nightly") as env:
        subprocess.run(["./job.sh"], env=env)

One ``Host`` serves every thread of the process: calls release the GIL, the
plugins and the credential cache are shared, and concurrent resolves of one
connection make one AWS call. Errors are ``lava_conn.Error`` (a spec's
problems ``lava_conn.InvalidSpec``) with the CLI's messages; secret values
never appear in a ``repr``.
"""

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Union

from lava_conn import _native
from lava_conn._native import Credentials, Error, InvalidSpec, Resolved

__all__ = ["Host", "Problem", "Resolved", "Credentials", "JobEnvironment", "Error", "InvalidSpec", "boto3_session"]

Spec = Union[Mapping[str, Any], str, bytes]


@dataclass(frozen=True)
class Problem:
    """One problem with a spec: the field it is in, ``error`` or
    ``warning``, and what is wrong and how to fix it."""

    field: str
    severity: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class JobEnvironment(dict):
    """A job's environment, as ``lava-conn exec`` gives it: this process's
    environment without the worker's own AWS credentials (unless the worker
    configuration passes them), plus each connection's variables
    (``LAVA_CONN_<LABEL>``, ``LAVA_CONNID_<LABEL>``, …). ``added`` and
    ``removed`` say what changed."""

    def __init__(self, base: Mapping[str, str], added: Dict[str, str], removed: List[str]):
        super().__init__((k, v) for k, v in base.items() if k not in removed)
        self.update(added)
        self.added = added
        self.removed = removed


class Host:
    """The host: plugins (built-in and from ``plugins``), the worker's
    settings (``config``, each overridden by its environment variable) and
    where specs come from (``connections``: a folder of spec files, or
    ``dynamodb``). Every argument is optional, defaulting as the CLI does."""

    def __init__(self, plugins: Optional[Union[str, os.PathLike]] = None,
                 connections: Optional[Union[str, os.PathLike]] = None,
                 config: Optional[Union[str, os.PathLike]] = None):
        self._native = _native.Host(
            plugins=_path(plugins), connections=None if connections is None else os.fspath(connections),
            config=_path(config),
        )

    def types(self) -> List[str]:
        """Every connector type this host serves (built in, and plugins)."""
        return self._native.types()

    def validate(self, spec: Spec, realm: Optional[str] = None) -> List[Problem]:
        """The spec's problems (a dict, or its JSON or YAML text); ``[]`` when valid."""
        text, is_json = _spec_text(spec)
        return [Problem(*p) for p in self._native.validate(text, is_json, realm)]

    def session_name(self, spec: Spec, realm: Optional[str] = None, job_id: Optional[str] = None) -> str:
        """The role-session (or application) name the job gets for the spec."""
        text, is_json = _spec_text(spec)
        return self._native.session_name(text, is_json, realm, job_id)

    def resolve(self, conn_id: str, realm: Optional[str] = None, job_id: Optional[str] = None) -> Resolved:
        """What connection ``conn_id`` gives the job: ``values``, secret values
        by name (``secret(name)``), ``credentials`` and ``expiration``. Served
        from the host's cache while it is fresh."""
        return self._native.resolve(conn_id, realm, job_id)

    def resolve_spec(self, spec: Spec, realm: Optional[str] = None, job_id: Optional[str] = None) -> Resolved:
        """What ``spec`` (a connection the caller holds, not one from the
        host's store) gives the job; cached as ``resolve`` is."""
        text, is_json = _spec_text(spec)
        return self._native.resolve_spec(text, is_json, realm, job_id)

    def boto3_session(self, conn_id: str, realm: Optional[str] = None, job_id: Optional[str] = None,
                      region_name: Optional[str] = None):
        """A boto3 session with the connection's AWS credentials, refreshed
        through this host before they expire (botocore's refreshable
        credentials; the host's cache decides when AWS is asked again)."""
        return boto3_session(lambda: self.resolve(conn_id, realm, job_id), region_name)

    @contextlib.contextmanager
    def prepare_job(self, connections: Mapping[str, str], realm: Optional[str] = None,
                    job_id: Optional[str] = None,
                    workdir: Optional[Union[str, os.PathLike]] = None) -> Iterator[JobEnvironment]:
        """The environment ``lava-conn exec`` gives a job whose connections
        are ``connections`` (label → conn id), for the block's duration: its
        private folders (stand-ins, secret files) are removed on leaving it."""
        prepared = self._native.prepare_job(dict(connections), realm, job_id, _path(workdir))
        try:
            yield JobEnvironment(os.environ, dict(prepared.vars), list(prepared.remove))
        finally:
            prepared.cleanup()

    def prepare_job_specs(self, specs: Mapping[str, Mapping[str, Any]], realm: Optional[str] = None,
                          job_id: Optional[str] = None, workdir: Optional[Union[str, os.PathLike]] = None):
        """As ``prepare_job``, for specs the caller holds (label → spec),
        without AWS profiles: the prepared job (``vars``, ``remove``), whose
        folders live until its ``cleanup()`` or until it is collected."""
        texts = {label: _spec_text(spec)[0] for label, spec in specs.items()}
        return self._native.prepare_job_specs(texts, realm, job_id, _path(workdir))



def boto3_session(resolve: Callable[[], Resolved], region_name: Optional[str] = None):
    """A boto3 session whose credentials come from ``resolve()`` and are
    refreshed through it before they expire (botocore's refreshable
    credentials; static keys stay as they are)."""
    import boto3
    import botocore.credentials
    import botocore.session

    first = _credentials(resolve())
    if first.expiration is None:
        credentials = botocore.credentials.Credentials(
            first.access_key_id, first.secret_access_key, first.session_token, method="lava-conn"
        )
    else:
        credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
            metadata=_metadata(first), refresh_using=lambda: _metadata(_credentials(resolve())), method="lava-conn",
        )
    core = botocore.session.get_session()
    core._credentials = credentials
    if first.endpoint_url:
        core.set_config_variable("endpoint_url", first.endpoint_url)
    return boto3.session.Session(botocore_session=core, region_name=region_name or first.region)


def _credentials(resolved: Resolved) -> Credentials:
    if resolved.credentials is None:
        raise Error(
            f"connection `{resolved.conn_id}` yields no AWS credentials, which a boto3 session needs: "
            "use resolve() or prepare_job() for it"
        )
    return resolved.credentials


def _metadata(credentials: Credentials) -> Dict[str, str]:
    """Credentials as botocore's refreshable credentials take them."""
    import datetime

    expiry = datetime.datetime.fromtimestamp(credentials.expiration, tz=datetime.timezone.utc)
    return {
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "token": credentials.session_token or "",
        "expiry_time": expiry.isoformat(),
    }


def _spec_text(spec: Spec):
    """A spec as text for the host, and whether it is JSON."""
    if isinstance(spec, Mapping):
        return json.dumps(dict(spec), default=_json_number), True
    if isinstance(spec, bytes):
        spec = spec.decode("utf-8")
    if not isinstance(spec, str):
        raise TypeError(f"a spec is a dict or its JSON or YAML text, not {type(spec).__name__}")
    return spec, spec.lstrip().startswith(("{", "["))


def _json_number(value: Any):
    """A DynamoDB number (``Decimal``, as lava reads specs) as JSON's."""
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"a spec holds {type(value).__name__}, which JSON cannot")


def _path(path: Optional[Union[str, os.PathLike]]) -> Optional[str]:
    return None if path is None else os.fspath(path)
