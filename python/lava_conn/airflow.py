"""Airflow's AWS hooks through lava-conn's sandboxed ``airflow-aws`` plugin.

Name the factory in Airflow's configuration, and every AWS hook
(``AwsBaseHook`` and all built on it) gets its boto3 session from lava-conn,
with no DAG change::

    [aws]
    session_factory = lava_conn.airflow.SessionFactory

(or ``AIRFLOW__AWS__SESSION_FACTORY=lava_conn.airflow.SessionFactory``, set
before Airflow imports its AWS hooks). The connection Airflow found is handed
to the ``airflow-aws`` connector as its spec (conn id, login, password,
extra); the connector decides as Airflow's provider does (role, keys, region,
Airflow's session name) using only what the worker's policy grants
(``[policy.airflow-aws]`` in lava-conn's configuration), and the session's
credentials refresh through lava-conn's cache before they expire.

The process holds one ``lava_conn.Host``, configured as the CLI is
(``LAVA_CONN_CONFIG``, each setting's variable), with the ``airflow-aws``
plugin the package ships, or the folder ``LAVA_CONN_PLUGINS`` names (which
must then hold ``airflow-aws``).
Deferrable operators (aiobotocore sessions) are refused with an error.
"""

import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from airflow.providers.amazon.aws.hooks.base_aws import BaseSessionFactory

import lava_conn

__all__ = ["SessionFactory", "host"]

# The realm and job the host's calls are made for: Airflow's own rule names
# the session, so they only key the credential cache.
_REALM = "airflow"
_JOB = "airflow"

_lock = threading.Lock()
_host: Optional[lava_conn.Host] = None


def host() -> lava_conn.Host:
    """The process's host, made on first use."""
    global _host
    with _lock:
        if _host is None:
            plugins = None if os.environ.get("LAVA_CONN_PLUGINS") else Path(__file__).parent / "plugins"
            _host = lava_conn.Host(plugins=plugins)
        return _host


def connection_spec(conn: Any) -> Dict[str, Any]:
    """The ``airflow-aws`` spec of Airflow's connection (an
    ``AwsConnectionWrapper``): what Airflow stored, nothing derived.
    An empty connection is ``aws_default`` without fields, which the
    connector serves with the worker's own credentials where granted."""
    spec: Dict[str, Any] = {"type": "airflow-aws", "conn_id": getattr(conn, "conn_id", None) or "aws_default"}
    if conn:
        for field in ("login", "password"):
            value = getattr(conn, field, None)
            if value:
                spec[field] = value
        extra = getattr(conn, "extra_config", None)
        if extra:
            spec["extra"] = dict(extra)
    return spec


class SessionFactory(BaseSessionFactory):
    """Airflow's session factory, resolving through lava-conn."""

    def create_session(self, deferrable: bool = False):
        if deferrable:
            raise lava_conn.Error(
                "lava_conn.airflow.SessionFactory serves boto3 sessions, not the aiobotocore ones deferrable "
                "operators use: run the task without deferrable=True"
            )
        spec = connection_spec(self.conn)
        resolve = lambda: host().resolve_spec(spec, realm=_REALM, job_id=_JOB)  # noqa: E731
        return lava_conn.boto3_session(resolve, region_name=self.region_name)
