"""Write a lava-conn connector type in Python.

A connector declares its spec as a dataclass (``SPEC``) and writes
``resolve`` over it (and ``check`` for rules beyond the fields' types);
``export`` turns it into the class componentize-py builds a component from::

    import dataclasses
    import lava_connector as lc

    @dataclasses.dataclass
    class TokenSpec:
        parameter: str = lc.spec_field(doc="The SSM parameter holding the token.")

    class Token(lc.Connector):
        TYPE = "token"
        VERSION = "0.1.0"
        SPEC = TokenSpec
        NEEDS = [lc.Need.within(lc.Capability.SSM, ["/lava/{realm}/"])]

        def resolve(self, spec, context):
            token = lc.ssm.get_parameter(spec.parameter)
            return lc.Resolved(values=[lc.Value("TOKEN", token, secret=True)])

    Connector = lc.export(Token)

The SDK reads every spec into ``SPEC`` as the Rust SDK's ``#[derive(Spec)]``
does: ``conn_id``, ``type``, ``enabled`` and ``description`` for every
connector, each field by its annotation (``str``, ``int``, ``bool``,
``float``, ``Optional[...]``, ``List[str]``, ``Dict[str, str]``), every
problem named by its field in the same words, unknown keys refused
(``X-*``/``x-*`` ignored); ``describe``'s field table comes from the same
dataclass.

``componentize-py -d wit/v0.3.0 -w plugin componentize token -o token.wasm``
then makes the ``.wasm`` to drop into the host's plugin folder.

The host makes a fresh instance for every call, so nothing carries over from
one call to the next. What a connector may ask of the host comes through
:data:`ssm`, :data:`secrets_manager`, :data:`sts`, :data:`redshift`,
:data:`rds`, :data:`worker_credentials`, :data:`log` and :data:`config`; the
AWS ones only as far as the connector declares in ``NEEDS`` (a list of
:class:`Need`) and the worker's ``[policy.<type>]`` allows, during
``resolve``. A refusal or an AWS failure is a :class:`CapabilityError`.
Nothing else reaches the plugin: no files, network or environment.

This module mirrors the Rust SDK (``lava_guest_kit``): the same problems,
the same default session name, the same contract (``wit/v0.3.0``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config as _config
from wit_world.imports import log as _log
from wit_world.imports import rds as _rds
from wit_world.imports import redshift as _redshift
from wit_world.imports import secrets_manager as _secrets_manager
from wit_world.imports import ssm as _ssm
from wit_world.imports import sts as _sts
from wit_world.imports import types as _wit
from wit_world.imports import worker_credentials as _worker_credentials

__all__ = [
    "AccessDenied",
    "AssumeRole",
    "Capability",
    "CapabilityError",
    "Connector",
    "Credentials",
    "DatabaseCredentials",
    "ExpiredToken",
    "Field",
    "InvalidInput",
    "JobContext",
    "Login",
    "Need",
    "NotFound",
    "NotGranted",
    "Other",
    "Problem",
    "RegionDisabled",
    "ResolveError",
    "Resolved",
    "SpecReader",
    "Throttled",
    "Unavailable",
    "ValidateContext",
    "Value",
    "config",
    "export",
    "log",
    "rds",
    "redshift",
    "secrets_manager",
    "session_name",
    "spec_field",
    "ssm",
    "sts",
    "worker_credentials",
]


# --- What a connector describes, finds and returns ---------------------------


class Field:
    """One spec field the connector understands, shown by ``lava-conn describe``.
    Made with :meth:`Field.required` or :meth:`Field.optional`."""

    __slots__ = ("name", "type_name", "is_required", "description")

    def __init__(self, name: str, type_name: str, is_required: bool, description: str):
        self.name = name
        self.type_name = type_name
        self.is_required = is_required
        self.description = description

    @staticmethod
    def required(name: str, type_name: str, description: str) -> "Field":
        return Field(name, type_name, True, description)

    @staticmethod
    def optional(name: str, type_name: str, description: str) -> "Field":
        return Field(name, type_name, False, description)

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.type_name!r}, {self.is_required!r}, {self.description!r})"


class Capability:
    """The host capabilities a connector can declare in ``NEEDS``, as the
    contract names them."""

    SSM = "ssm"
    SECRETS_MANAGER = "secrets-manager"
    STS = "sts"
    REDSHIFT = "redshift"
    REDSHIFT_SERVERLESS = "redshift-serverless"
    RDS_TOKEN = "rds-token"
    WORKER_CREDENTIALS = "worker-credentials"


@dataclass(frozen=True)
class Need:
    """A capability ``resolve`` calls and how far: SSM and Secrets Manager
    by name prefixes, STS by role ARN patterns, Redshift by cluster and
    Serverless by workgroup patterns, RDS tokens by host patterns;
    ``{realm}`` stands for the job's realm. An empty scope asks for whatever
    the worker allows. Made with :meth:`Need.any` or :meth:`Need.within`."""

    capability: str
    scope: Sequence[str] = ()

    @staticmethod
    def any(capability: str) -> "Need":
        return Need(capability, ())

    @staticmethod
    def within(capability: str, scope: Sequence[str]) -> "Need":
        return Need(capability, tuple(scope))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: the field it concerns (``""`` for the
    whole spec), what is wrong and what would be valid. Never a secret."""

    field: str
    message: str
    is_error: bool = True

    @staticmethod
    def error(field: str, message: str) -> "Problem":
        return Problem(field, message, True)

    @staticmethod
    def warning(field: str, message: str) -> "Problem":
        return Problem(field, message, False)


@dataclass(frozen=True)
class ValidateContext:
    """What the host knows when it asks for validation."""

    realm: Optional[str]


@dataclass(frozen=True)
class JobContext:
    """The job a connection is resolved for."""

    realm: str
    job_id: str
    conn_id: str
    session_name_template: str


@dataclass(frozen=True)
class Credentials:
    """AWS credentials. The secret parts never appear in ``repr``."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: Optional[str] = field(default=None, repr=False)
    expiration: Optional[int] = None
    region: Optional[str] = None
    endpoint_url: Optional[str] = None


@dataclass(frozen=True)
class Value:
    """A named value for the job: a letter or ``_``, then letters, digits and
    ``_``. A secret one is kept out of logs and written only to private files."""

    name: str
    value: str = field(repr=False)
    secret: bool = False


@dataclass(frozen=True)
class Login:
    """Where and how a job logs in, for the login launchers. The host
    checks every value and writes every file itself; the secret parts never
    appear in ``repr``."""

    host: Optional[str] = None
    port: Optional[int] = None
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    #: For ``sqlplus`` the service, for ``sqlite3`` the file.
    database: Optional[str] = None
    #: The TLS mode in the client's words (``require``, ``verify-full``, …).
    ssl_mode: Optional[str] = None
    ca_certificate: Optional[str] = None
    application_name: Optional[str] = None
    private_key: Optional[str] = field(default=None, repr=False)
    #: SSH options (name, value); the host refuses any that runs a program.
    ssh_options: Sequence[tuple] = ()


@dataclass(frozen=True)
class DatabaseCredentials:
    """Temporary database credentials (Redshift, Redshift Serverless)."""

    user: str
    password: str = field(repr=False)
    expiration: Optional[int] = None


@dataclass(frozen=True)
class AssumeRole:
    """An ``AssumeRole`` call, for ``as_role`` in the Redshift and RDS calls
    (which needs :data:`Capability.STS` declared and allowed too)."""

    role_arn: str
    session_name: str
    duration_seconds: int = 3600
    external_id: Optional[str] = None
    policy_arns: Sequence[str] = ()
    policy: Optional[str] = None
    tags: Optional[Dict[str, str]] = None
    transitive_tag_keys: Sequence[str] = ()
    source_identity: Optional[str] = None
    region: Optional[str] = None
    endpoint_url: Optional[str] = None


#: The launcher kinds, as the contract names them.
LAUNCHERS = ("aws-cli", "psql", "mysql", "ssh", "scp", "sftp", "git", "sqlplus", "sqlite3", "generic")


@dataclass
class Resolved:
    """What a job gets from a resolved connection."""

    values: List[Value] = field(default_factory=list)
    expiration: Optional[int] = None
    aws: Optional[Credentials] = None
    #: The stand-in the host writes for the job: one of :data:`LAUNCHERS`
    #: (``"aws-cli"`` needs ``aws``; the database and SSH kinds ``login``).
    launcher: Optional[str] = None
    login: Optional[Login] = None


class ResolveError(Exception):
    """Raise from ``resolve`` to fail it with this message (shown to the user
    as it is: say which field and what to do; never a secret)."""


# --- Capabilities --------------------------------------------------------------


class CapabilityError(Exception):
    """A host capability call failed; the subclass says how. The message is
    the host's, and never holds a secret."""


class NotGranted(CapabilityError):
    """Outside what the host granted this call; nothing was sent."""


class NotFound(CapabilityError):
    """The parameter or role does not exist."""


class AccessDenied(CapabilityError):
    """AWS refused the host's credentials for this request."""


class Throttled(CapabilityError):
    """AWS throttled the request and the host's retries ran out."""


class InvalidInput(CapabilityError):
    """AWS rejected an input."""


class RegionDisabled(CapabilityError):
    """STS is not activated in the region."""


class ExpiredToken(CapabilityError):
    """The host's own credentials have expired."""


class Unavailable(CapabilityError):
    """AWS could not be reached in the time allowed."""


class Other(CapabilityError):
    """Any other failure."""


_ERRORS = {
    _wit.CapabilityError_NotGranted: NotGranted,
    _wit.CapabilityError_NotFound: NotFound,
    _wit.CapabilityError_AccessDenied: AccessDenied,
    _wit.CapabilityError_Throttled: Throttled,
    _wit.CapabilityError_InvalidInput: InvalidInput,
    _wit.CapabilityError_RegionDisabled: RegionDisabled,
    _wit.CapabilityError_ExpiredToken: ExpiredToken,
    _wit.CapabilityError_Unavailable: Unavailable,
    _wit.CapabilityError_Other: Other,
}


def _capability_error(error: Err) -> CapabilityError:
    """The SDK's exception for a capability call's error."""
    kind = _ERRORS.get(type(error.value), Other)
    return kind(str(getattr(error.value, "value", error.value)))


def _credentials(c: _wit.AwsCredentials) -> Credentials:
    return Credentials(c.access_key_id, c.secret_access_key, c.session_token, c.expiration, c.region, c.endpoint_url)


def _wit_credentials(c: Credentials) -> _wit.AwsCredentials:
    return _wit.AwsCredentials(
        c.access_key_id, c.secret_access_key, c.session_token, c.expiration, c.region, c.endpoint_url
    )


class _Ssm:
    """AWS Systems Manager Parameter Store, as the host grants it."""

    def get_parameter(self, name: str, decrypt: bool = True) -> str:
        """The parameter's value. The host reads only names the connector
        declared and the worker allows, during ``resolve``."""
        return _call(_ssm.get_parameter, name, decrypt)


class _Sts:
    """AWS Security Token Service, as the host grants it."""

    def assume_role(
        self,
        role_arn: str,
        session_name: str,
        duration_seconds: int = 3600,
        *,
        external_id: Optional[str] = None,
        policy_arns: Sequence[str] = (),
        policy: Optional[str] = None,
        tags: Optional[Dict[str, str]] = None,
        transitive_tag_keys: Sequence[str] = (),
        source_identity: Optional[str] = None,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        source: Optional[Credentials] = None,
    ) -> Credentials:
        """Assume ``role_arn``; the host makes the call with its own
        credentials unless ``source`` names others, and checks the role
        against what the connector declared and the worker allows."""
        role = AssumeRole(
            role_arn,
            session_name,
            duration_seconds,
            external_id=external_id,
            policy_arns=policy_arns,
            policy=policy,
            tags=tags,
            transitive_tag_keys=transitive_tag_keys,
            source_identity=source_identity,
            region=region,
            endpoint_url=endpoint_url,
        )
        return _call(_sts.assume_role, _wit_assume_role(role, source), then=_credentials)


def _wit_assume_role(role: AssumeRole, source: Optional[Credentials] = None) -> _sts.AssumeRoleRequest:
    return _sts.AssumeRoleRequest(
        role_arn=role.role_arn,
        session_name=role.session_name,
        duration_seconds=role.duration_seconds,
        external_id=role.external_id,
        policy_arns=list(role.policy_arns),
        policy=role.policy,
        tags=[_sts.Tag(k, v) for k, v in (role.tags or {}).items()],
        transitive_tag_keys=list(role.transitive_tag_keys),
        source_identity=role.source_identity,
        region=role.region,
        endpoint_url=role.endpoint_url,
        source=_wit_credentials(source) if source else None,
    )


def _call(function, *args, then=lambda result: result):
    """Call a host capability; its error as the SDK's exception."""
    try:
        return then(function(*args))
    except Err as e:
        raise _capability_error(e) from None


def _database_credentials(c: _wit.DatabaseCredentials) -> DatabaseCredentials:
    return DatabaseCredentials(c.user, c.password, c.expiration)


class _SecretsManager:
    """AWS Secrets Manager, as the host grants it: string secrets of at most
    64 KiB, by name or ARN."""

    def get_secret_value(self, secret_id: str) -> str:
        return _call(_secrets_manager.get_secret_value, secret_id)


class _Redshift:
    """Temporary Redshift and Redshift Serverless database credentials."""

    def get_cluster_credentials(
        self,
        cluster_identifier: str,
        db_user: str,
        duration_seconds: int = 900,
        *,
        db_name: Optional[str] = None,
        auto_create: bool = False,
        db_groups: Sequence[str] = (),
        region: Optional[str] = None,
        as_role: Optional[AssumeRole] = None,
    ) -> DatabaseCredentials:
        """``GetClusterCredentials`` (900 to 3600 seconds), made as
        ``as_role`` when given."""
        request = _redshift.ClusterCredentialsRequest(
            cluster_identifier=cluster_identifier,
            db_user=db_user,
            db_name=db_name,
            duration_seconds=duration_seconds,
            auto_create=auto_create,
            db_groups=list(db_groups),
            region=region,
            as_role=_wit_assume_role(as_role) if as_role else None,
        )
        return _call(_redshift.get_cluster_credentials, request, then=_database_credentials)

    def get_serverless_credentials(
        self,
        workgroup_name: str,
        duration_seconds: int = 900,
        *,
        db_name: Optional[str] = None,
        region: Optional[str] = None,
        as_role: Optional[AssumeRole] = None,
    ) -> DatabaseCredentials:
        """Redshift Serverless ``GetCredentials`` (900 to 3600 seconds), made
        as ``as_role`` when given, as lava's serverless getter does."""
        request = _redshift.ServerlessCredentialsRequest(
            workgroup_name=workgroup_name,
            db_name=db_name,
            duration_seconds=duration_seconds,
            region=region,
            as_role=_wit_assume_role(as_role) if as_role else None,
        )
        return _call(_redshift.get_serverless_credentials, request, then=_database_credentials)


class _Rds:
    """RDS IAM authentication tokens, presigned by the host (no request is
    sent, and the signing keys never reach the plugin)."""

    def generate_auth_token(
        self,
        host: str,
        port: int,
        user: str,
        *,
        region: Optional[str] = None,
        as_role: Optional[AssumeRole] = None,
    ) -> str:
        request = _rds.AuthTokenRequest(
            host=host,
            port=port,
            user=user,
            region=region,
            as_role=_wit_assume_role(as_role) if as_role else None,
        )
        return _call(_rds.generate_auth_token, request)


class _WorkerCredentials:
    """The worker's own AWS credentials: granted only to connector types the
    worker lists in ``worker_credentials``, and only during ``resolve``."""

    def get(self) -> Credentials:
        return _call(_worker_credentials.get, then=_credentials)


class _Log:
    """The host's log. Lines are bounded in size and number per call; never
    log a secret."""

    def trace(self, message: str) -> None:
        _log.log(_log.Level.TRACE, message)

    def debug(self, message: str) -> None:
        _log.log(_log.Level.DEBUG, message)

    def info(self, message: str) -> None:
        _log.log(_log.Level.INFO, message)

    def warn(self, message: str) -> None:
        _log.log(_log.Level.WARN, message)

    def error(self, message: str) -> None:
        _log.log(_log.Level.ERROR, message)


class _Config:
    """Worker settings the host shares with plugins (``AWS_CONN_DURATION``, …)."""

    def get(self, key: str) -> Optional[str]:
        return _config.get(key)


ssm = _Ssm()
secrets_manager = _SecretsManager()
sts = _Sts()
redshift = _Redshift()
rds = _Rds()
worker_credentials = _WorkerCredentials()
log = _Log()
config = _Config()


# --- Reading a spec --------------------------------------------------------------


def _kind(value: Any) -> str:
    """A JSON type name, for messages (as the Rust SDK says it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a map"


class SpecReader:
    """Reads a spec's fields, collecting every problem (not only the first),
    each naming its field, in the Rust SDK's words."""

    def __init__(self, spec: Dict[str, Any]):
        self.spec = spec
        self.problems: List[Problem] = []

    def error(self, field: str, message: str) -> None:
        self.problems.append(Problem.error(field, message))

    def warning(self, field: str, message: str) -> None:
        self.problems.append(Problem.warning(field, message))

    def required_string(self, field: str) -> Optional[str]:
        """The field's text; a problem when it is absent or not a string."""
        if field not in self.spec:
            self.error(field, "is required")
            return None
        return self.optional_string(field)

    def optional_string(self, field: str) -> Optional[str]:
        """The field's text, or none when absent; a problem when not a string."""
        value = self.spec.get(field)
        if value is None or isinstance(value, str):
            return value
        self.error(field, f"must be a string, not {_kind(value)}")
        return None

    def optional_int(self, field: str, low: int, high: int) -> Optional[int]:
        """The field's whole number within ``low..=high``, or none when absent."""
        value = self.spec.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(field, f"must be a whole number, not {_kind(value)}")
            return None
        if not low <= value <= high:
            self.error(field, f"must be {low} to {high}, not {value}")
            return None
        return value

    def enabled(self) -> bool:
        """The spec's ``enabled`` (true when absent)."""
        value = self.spec.get("enabled", True)
        if isinstance(value, bool):
            return value
        self.error("enabled", "must be true or false")
        return False

    def warn_unknown(self, fields: Sequence[Field], connector_type: str) -> None:
        """A warning for every key that is not one of ``fields``."""
        known = {f.name for f in fields}
        for key in self.spec:
            if key not in known:
                self.warning(key, f"is not a field of `{connector_type}` and is ignored")

    @property
    def has_error(self) -> bool:
        return any(p.is_error for p in self.problems)


def error_summary(problems: Sequence[Problem]) -> str:
    """The errors in one line: ``field: message; …``."""
    return "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems if p.is_error)


# --- Typed specs (as the Rust SDK's `#[derive(Spec)]`) --------------------------------


def spec_field(default: Any = dataclasses.MISSING, *, doc: str = "") -> Any:
    """A field of a connector's ``SPEC`` dataclass: ``doc`` is its
    description in ``describe``; with a ``default`` the spec may leave it out."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


#: The fields every spec has, read by the SDK for every connector.
COMMON_FIELDS = (
    Field.required("conn_id", "string", "The connection's id."),
    Field.required("type", "string", "The connector type."),
    Field.required("enabled", "bool", "Whether the connection may be used."),
    Field.optional("description", "string", "Free text."),
)

_TYPE_NAMES = {str: "string", int: "integer", bool: "bool", float: "number"}

#: The fields the SDK reads for every spec, which a SPEC may hold to use them.
_COMMON = ("conn_id", "type", "description")


def _field_type(annotation: Any) -> "tuple[Any, bool]":
    """The annotation without ``Optional``, and whether it was optional."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return annotation, False


def _type_name(annotation: Any) -> str:
    inner, _ = _field_type(annotation)
    if inner in _TYPE_NAMES:
        return _TYPE_NAMES[inner]
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin in (list, List) and args == (str,):
        return "list of strings"
    if origin in (dict, Dict) and args == (str, str):
        return "map of strings"
    return "any JSON"


def _read_value(annotation: Any, value: Any, path: str, reader: "SpecReader") -> "tuple[bool, Any]":
    """``value`` as ``annotation``, or a problem on ``path`` in the Rust SDK's words."""
    inner, optional = _field_type(annotation)
    if value is None and optional:
        return True, None
    wrong = lambda expected: (reader.error(path, f"must be {expected}, not {_kind(value)}"), (False, None))[1]
    if inner is str:
        return (True, value) if isinstance(value, str) else wrong("a string")
    if inner is bool:
        return (True, value) if isinstance(value, bool) else wrong("true or false")
    if inner is int:
        # As the Rust SDK: a whole number written as one (5432, not 5432.0).
        return (True, value) if isinstance(value, int) and not isinstance(value, bool) else wrong("a whole number")
    if inner is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return wrong("a number")
        try:
            number = float(value)
        except OverflowError:
            return wrong("a number of a float's size")
        return (True, number) if math.isfinite(number) else wrong("a finite number")
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin in (list, List) and args == (str,):
        if not isinstance(value, list):
            return wrong("a list of strings")
        good = [_read_value(str, item, f"{path}[{i}]", reader) for i, item in enumerate(value)]
        return (True, value) if all(ok for ok, _ in good) else (False, None)
    if origin in (dict, Dict) and args == (str, str):
        if not isinstance(value, dict):
            return wrong("a map of strings")
        good = [_read_value(str, item, f"{path}.{key}", reader) for key, item in value.items()]
        return (True, value) if all(ok for ok, _ in good) else (False, None)
    return True, value


def spec_fields(spec_type: type) -> List[Field]:
    """``describe``'s field table for a ``SPEC`` dataclass: the common fields, then its own."""
    hints = typing.get_type_hints(spec_type)
    own = []
    for f in dataclasses.fields(spec_type):
        if f.name in _COMMON:
            continue
        _, optional = _field_type(hints[f.name])
        required = not optional and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        own.append(Field(f.name, _type_name(hints[f.name]), required, f.metadata.get("doc", "")))
    return list(COMMON_FIELDS) + own


def read_spec(connector: "Connector", spec: Dict[str, Any], realm: Optional[str]) -> "tuple[Any, bool, List[Problem]]":
    """``spec`` read into the connector's ``SPEC`` (``None`` when it has an
    error), whether the connection is enabled, and every problem."""
    reader = SpecReader(spec)
    fields = spec_fields(connector.SPEC)
    known = [f.name for f in fields]
    for key in spec:
        if key not in known and not key.startswith(("X-", "x-")):
            reader.error(
                key,
                f"is not a field of a `{connector.TYPE}` connection; valid fields are {', '.join(known)}, "
                "and annotations starting with `X-` or `x-`",
            )
    conn_id = reader.required_string("conn_id")
    if conn_id == "":
        reader.error("conn_id", "must not be empty")
    kind = reader.required_string("type")
    if kind is not None and kind.lower() != connector.TYPE.lower():
        reader.error("type", f"is `{kind}`; this connector handles `{connector.TYPE}`")
    enabled = spec.get("enabled", True if connector.ENABLED_BY_DEFAULT else None)
    if enabled is None and "enabled" not in spec:
        reader.error("enabled", 'is required: add `"enabled": true` (lava treats a spec without it as disabled)')
    elif not isinstance(enabled, bool):
        reader.error("enabled", f"must be true or false, not {_kind(enabled)}")
    reader.optional_string("description")
    hints = typing.get_type_hints(connector.SPEC)
    values, readable = {}, True
    for f in dataclasses.fields(connector.SPEC):
        if f.name in _COMMON:
            # The SDK's own, checked above: a SPEC may hold it to use it.
            values[f.name] = spec.get(f.name)
            readable = readable and (f.name == "description" or isinstance(spec.get(f.name), str))
            continue
        if f.name in spec:
            ok, value = _read_value(hints[f.name], spec[f.name], f.name, reader)
            readable = readable and ok
            values[f.name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if _field_type(hints[f.name])[1]:
                values[f.name] = None
            else:
                reader.error(f.name, "is required")
                readable = False
    typed = connector.SPEC(**values) if readable else None
    if typed is None and not reader.has_error:
        reader.error("", f"the spec cannot be read as a `{connector.TYPE}` spec")
    if typed is not None:
        connector.check(typed, ValidateContext(realm), reader)
    return (None if reader.has_error else typed), enabled is True, reader.problems


def session_name(context: JobContext) -> str:
    """The job's role-session name: the worker's template (``CONN_APP_NAME``),
    which the host renders for the job and cleanses, as lava does."""
    return context.session_name_template


# --- The connector -------------------------------------------------------------------


class Connector:
    """A connector type. Set ``TYPE``, ``VERSION``, ``SPEC`` (a dataclass)
    and ``NEEDS``; write ``resolve`` (and ``check``); export it with
    :func:`export`.

    A connector without ``SPEC`` is handed the spec as a dict instead, and
    writes ``FIELDS`` and ``validate`` itself (the first edition of this SDK)."""

    #: The spec ``type`` it handles (lowercase letters, digits, ``-``, ``_``).
    TYPE: str = ""
    #: Its version, shown by ``lava-conn plugins``.
    VERSION: str = "0.0.0"
    #: The spec's own fields, as a dataclass (see :func:`spec_field`).
    SPEC: Optional[type] = None
    #: Whether a spec without ``enabled`` may be used (lava's connectors: no).
    ENABLED_BY_DEFAULT: bool = False
    #: The spec's fields, for a connector without ``SPEC``.
    FIELDS: Sequence[Field] = ()
    #: The capabilities ``resolve`` calls, and how far: the host refuses
    #: any call outside them, before any request.
    NEEDS: Sequence[Need] = ()

    def check(self, spec: Any, context: ValidateContext, reader: "SpecReader") -> None:
        """Problems beyond the fields' types, recorded with ``reader.error``
        and ``reader.warning``. None by default."""

    def validate(self, spec: Dict[str, Any], context: ValidateContext) -> List[Problem]:
        """The spec's problems; none means valid. The host grants no AWS here."""
        if self.SPEC is None:
            return []
        return read_spec(self, spec, context.realm)[2]

    def session_name(self, spec: Any, context: JobContext) -> str:
        """The role-session name for the job: by default the worker's, which
        the host rendered (lava's rule)."""
        return session_name(context)

    def resolve(self, spec: Any, context: JobContext) -> Resolved:
        """What the job gets, through the host's capabilities. Raise
        :class:`ResolveError` to fail with a message for the user."""
        raise ResolveError(f"connector type `{self.TYPE}` does not resolve connections")


def _checked(connector: Connector, spec: Dict[str, Any], context: JobContext) -> Any:
    """The spec as ``resolve`` and ``session_name`` take it: typed and
    without errors (raising them), or, without ``SPEC``, validated."""
    if connector.SPEC is None:
        problems = [p for p in connector.validate(spec, ValidateContext(context.realm)) if p.is_error]
        if problems:
            raise _Problems(problems)
        return spec
    typed, _, problems = read_spec(connector, spec, context.realm)
    if typed is None:
        raise _Problems([p for p in problems if p.is_error])
    return typed


class _Problems(Exception):
    def __init__(self, problems: List[Problem]):
        super().__init__(error_summary(problems))
        self.problems = problems


def _wit_problem(p: Problem) -> _wit.Problem:
    return _wit.Problem(p.field, p.message, _wit.Severity.ERROR if p.is_error else _wit.Severity.WARNING)


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (serde_json, in the Rust SDK, refuses them too)."""
    raise ValueError(f"`{constant}` is not a JSON number")


def _parse(spec: str) -> Dict[str, Any]:
    try:
        value = json.loads(spec, parse_constant=_not_json)
    except ValueError as e:
        raise _Problems([Problem.error("", f"the spec is not valid JSON: {e}")]) from None
    if not isinstance(value, dict):
        raise _Problems([Problem.error("", "the spec must be a JSON object (a map of fields)")])
    return value


def _job(context: _wit.JobContext) -> JobContext:
    return JobContext(context.realm, context.job_id, context.conn_id, context.session_name_template)


_CAPABILITIES = {
    Capability.SSM: _wit.Capability.SSM,
    Capability.SECRETS_MANAGER: _wit.Capability.SECRETS_MANAGER,
    Capability.STS: _wit.Capability.STS,
    Capability.REDSHIFT: _wit.Capability.REDSHIFT,
    Capability.REDSHIFT_SERVERLESS: _wit.Capability.REDSHIFT_SERVERLESS,
    Capability.RDS_TOKEN: _wit.Capability.RDS_TOKEN,
    Capability.WORKER_CREDENTIALS: _wit.Capability.WORKER_CREDENTIALS,
}

_LAUNCHERS = {
    "aws-cli": _wit.LauncherKind.AWS_CLI,
    "psql": _wit.LauncherKind.PSQL,
    "mysql": _wit.LauncherKind.MYSQL,
    "ssh": _wit.LauncherKind.SSH,
    "scp": _wit.LauncherKind.SCP,
    "sftp": _wit.LauncherKind.SFTP,
    "git": _wit.LauncherKind.GIT,
    "sqlplus": _wit.LauncherKind.SQLPLUS,
    "sqlite3": _wit.LauncherKind.SQLITE3,
    "generic": _wit.LauncherKind.GENERIC,
}


def _wit_need(need: Need) -> _wit.Need:
    if need.capability not in _CAPABILITIES:
        raise ValueError(f"NEEDS: capability must be one of {sorted(_CAPABILITIES)}, not {need.capability!r}")
    return _wit.Need(_CAPABILITIES[need.capability], list(need.scope))


def _wit_login(login: Login) -> _wit.Login:
    return _wit.Login(
        host=login.host,
        port=login.port,
        user=login.user,
        password=login.password,
        database=login.database,
        ssl_mode=login.ssl_mode,
        ca_certificate=login.ca_certificate,
        application_name=login.application_name,
        private_key=login.private_key,
        ssh_options=[(str(name), str(value)) for name, value in login.ssh_options],
    )


def _wit_resolved(resolved: Resolved) -> _wit.Resolved:
    if not isinstance(resolved, Resolved):
        raise TypeError(f"resolve must return lava_connector.Resolved, not {type(resolved).__name__}")
    if resolved.launcher is not None and resolved.launcher not in _LAUNCHERS:
        raise ValueError(f"launcher must be one of {list(_LAUNCHERS)} or None, not {resolved.launcher!r}")
    return _wit.Resolved(
        values=[_wit.NamedValue(v.name, v.value, v.secret) for v in resolved.values],
        expiration=resolved.expiration,
        aws=_wit_credentials(resolved.aws) if resolved.aws else None,
        launcher=_LAUNCHERS.get(resolved.launcher),
        login=_wit_login(resolved.login) if resolved.login else None,
    )


def _resolvable(connector: Connector, spec: Dict[str, Any], job: JobContext) -> Any:
    """As :func:`_checked`, and for a typed spec: its warnings logged, and
    only an enabled connection."""
    if connector.SPEC is None:
        return spec
    typed, enabled, problems = read_spec(connector, spec, job.realm)
    if typed is None:
        raise _Problems([p for p in problems if p.is_error])
    for p in problems:
        log.warn(f"connection `{job.conn_id}`: {p.field}: {p.message}")
    if not enabled:
        raise ResolveError(f'connection `{job.conn_id}` is not enabled: set `"enabled": true` to use it')
    return typed


def export(connector: type) -> type:
    """The class componentize-py exports for ``connector`` (a
    :class:`Connector` subclass): bind it to the name ``Connector`` in the
    app module."""
    if not (isinstance(connector, type) and issubclass(connector, Connector)) or not connector.TYPE:
        raise TypeError("export takes a lava_connector.Connector subclass with a TYPE")
    if connector.SPEC is not None and any(f.name == "enabled" for f in dataclasses.fields(connector.SPEC)):
        raise TypeError("`enabled` is the SDK's: resolve runs only on an enabled connection; leave it out of SPEC")

    class Exported(exports.Connector):
        def describe(self) -> _wit.Descriptor:
            table = spec_fields(connector.SPEC) if connector.SPEC is not None else connector.FIELDS
            fields = [_wit.FieldInfo(f.name, f.type_name, f.is_required, f.description) for f in table]
            needs = [_wit_need(n) for n in connector.NEEDS]
            return _wit.Descriptor([connector.TYPE], connector.VERSION, fields, needs)

        def validate(self, spec: str, context: _wit.ValidateContext) -> List[_wit.Problem]:
            try:
                problems = connector().validate(_parse(spec), ValidateContext(context.realm))
            except _Problems as e:
                problems = e.problems
            return [_wit_problem(p) for p in problems]

        def session_name(self, spec: str, context: _wit.JobContext) -> str:
            job, plugin = _job(context), connector()
            try:
                return plugin.session_name(_checked(plugin, _parse(spec), job), job)
            except _Problems as e:
                raise Err([_wit_problem(p) for p in e.problems]) from None

        def resolve(self, spec: str, context: _wit.JobContext) -> _wit.Resolved:
            job, plugin = _job(context), connector()
            try:
                return _wit_resolved(plugin.resolve(_resolvable(plugin, _parse(spec), job), job))
            except _Problems as e:
                raise Err(f"the spec is invalid: {error_summary(e.problems)}") from None
            except (ResolveError, CapabilityError) as e:
                raise Err(str(e)) from None

    Exported.__name__ = Exported.__qualname__ = "Connector"
    return Exported
