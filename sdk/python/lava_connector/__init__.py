"""Write a lava-conn connector type in Python.

A connector is a subclass of :class:`Connector` that names its type and
fields and writes ``validate`` and ``resolve`` over the spec (a dict);
``export`` turns it into the class componentize-py builds a component from::

    import lava_connector as lc

    class Token(lc.Connector):
        TYPE = "token"
        VERSION = "0.1.0"
        FIELDS = [lc.Field.required("parameter", "string", "SSM parameter holding the token")]

        def validate(self, spec, context):
            reader = lc.SpecReader(spec)
            reader.required_string("parameter")
            return reader.problems

        def resolve(self, spec, context):
            token = lc.ssm.get_parameter(spec["parameter"])
            return lc.Resolved(values=[lc.Value("TOKEN", token, secret=True)])

    Connector = lc.export(Token)

``componentize-py -d wit/v0.2.0 -w plugin componentize token -o token.wasm``
then makes the ``.wasm`` to drop into the host's plugin folder.

The host makes a fresh instance for every call, so nothing carries over from
one call to the next. What a connector may ask of the host comes through
:data:`ssm`, :data:`sts`, :data:`worker_credentials`, :data:`log` and
:data:`config`, each checked by the host against what it granted the call; a
refusal or an AWS failure is a :class:`CapabilityError`. Nothing else reaches
the plugin: no files, network or environment.

This module mirrors the Rust SDK (``lava_guest_kit``): the same problems,
the same default session name, the same contract (``wit/v0.2.0``).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config as _config
from wit_world.imports import log as _log
from wit_world.imports import ssm as _ssm
from wit_world.imports import sts as _sts
from wit_world.imports import types as _wit
from wit_world.imports import worker_credentials as _worker_credentials

__all__ = [
    "AccessDenied",
    "CapabilityError",
    "Connector",
    "Credentials",
    "ExpiredToken",
    "Field",
    "InvalidInput",
    "JobContext",
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
    "session_name",
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


@dataclass
class Resolved:
    """What a job gets from a resolved connection."""

    values: List[Value] = field(default_factory=list)
    expiration: Optional[int] = None
    aws: Optional[Credentials] = None
    #: ``"aws-cli"`` for lava's AWS CLI stand-in (needs ``aws``), else none.
    launcher: Optional[str] = None


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
        """The parameter's value. The host reads only names under the prefixes
        it granted the call (``/lava/<realm>/`` by default, during ``resolve``)."""
        try:
            return _ssm.get_parameter(name, decrypt)
        except Err as e:
            raise _capability_error(e) from None


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
        against the worker's ``allowed_roles``."""
        request = _sts.AssumeRoleRequest(
            role_arn=role_arn,
            session_name=session_name,
            duration_seconds=duration_seconds,
            external_id=external_id,
            policy_arns=list(policy_arns),
            policy=policy,
            tags=[_sts.Tag(k, v) for k, v in (tags or {}).items()],
            transitive_tag_keys=list(transitive_tag_keys),
            source_identity=source_identity,
            region=region,
            endpoint_url=endpoint_url,
            source=_wit_credentials(source) if source else None,
        )
        try:
            return _credentials(_sts.assume_role(request))
        except Err as e:
            raise _capability_error(e) from None


class _WorkerCredentials:
    """The worker's own AWS credentials: granted only to connector types the
    worker lists in ``worker_credentials``, and only during ``resolve``."""

    def get(self) -> Credentials:
        try:
            return _credentials(_worker_credentials.get())
        except Err as e:
            raise _capability_error(e) from None


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
sts = _Sts()
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
        return "an array"
    return "an object"


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


# --- The default session name (lava's rule, as lava_rules::session) --------------

_FALLBACK_NAME = "lava"
_MAX_LEN = 64


def _render_plain(template: str, variables: Dict[str, str]) -> Optional[str]:
    """Render a template of text and ``{{ realm }}``, ``{{ job_id }}``,
    ``{{ conn_id }}``; none for anything else (filters, tags, comments)."""
    source = template[:-1] if template.endswith("\n") else template
    source = source[:-1] if source.endswith("\r") else source
    out, rest = [], source
    while "{" in rest:
        open_at = rest.index("{")
        out.append(rest[:open_at])
        tail = rest[open_at:]
        if tail[1:2] == "{":
            close = tail.find("}}")
            if close < 0:
                return None
            name = tail[2:close].strip(" \t\n\r\x0c")
            if name not in variables:
                return None
            out.append(variables[name])
            rest = tail[close + 2 :]
        elif tail[1:2] in ("%", "#"):
            return None
        else:
            out.append("{")
            rest = tail[1:]
    out.append(rest)
    return "".join(out)


def _cleanse(text: str) -> str:
    """lava's cleansing: drop quotes and backslashes, fold to ASCII (NFKD,
    drop the rest), one ``.`` per run of other characters, no leading
    punctuation, at most 64 characters."""
    kept = "".join(c for c in text if c not in "'\"\\")
    ascii_only = "".join(c for c in unicodedata.normalize("NFKD", kept) if ord(c) < 128)
    out, in_run = [], False
    for c in ascii_only:
        if c.isascii() and (c.isalnum() or c in "_=,.@-"):
            out.append(c)
            in_run = False
        elif not in_run:
            out.append(".")
            in_run = True
    name = "".join(out)
    start = next((i for i, c in enumerate(name) if c.isalnum() or c == "_"), len(name))
    return name[start:][:_MAX_LEN]


def session_name(context: JobContext) -> str:
    """The worker's session-name template (``CONN_APP_NAME``) rendered for the
    job and cleansed, as lava and the Rust SDK do. Raises :class:`ValueError`
    for a template that needs Jinja beyond the three variables."""
    if not all((context.session_name_template, context.realm, context.job_id, context.conn_id)):
        return _FALLBACK_NAME
    variables = {"realm": context.realm, "job_id": context.job_id, "conn_id": context.conn_id}
    rendered = _render_plain(context.session_name_template, variables)
    if rendered is None:
        raise ValueError(
            f"template `{context.session_name_template}` uses more than `{{{{ realm }}}}`, "
            "`{{ job_id }}` and `{{ conn_id }}`, which is all the Python SDK renders; "
            "override `session_name` in the connector, or simplify CONN_APP_NAME"
        )
    name = _cleanse(rendered)
    return name if len(name) >= 2 else _FALLBACK_NAME


# --- The connector -------------------------------------------------------------------


class Connector:
    """A connector type. Set ``TYPE``, ``VERSION`` and ``FIELDS``; write
    ``validate`` and ``resolve``; export it with :func:`export`."""

    #: The spec ``type`` it handles (lowercase letters, digits, ``-``, ``_``).
    TYPE: str = ""
    #: Its version, shown by ``lava-conn plugins``.
    VERSION: str = "0.0.0"
    #: The spec's fields, shown by ``lava-conn describe``.
    FIELDS: Sequence[Field] = ()

    def validate(self, spec: Dict[str, Any], context: ValidateContext) -> List[Problem]:
        """The spec's problems; none means valid. The host grants no AWS here."""
        return []

    def session_name(self, spec: Dict[str, Any], context: JobContext) -> str:
        """The role-session name for the job. By default: the spec's errors
        if it has any, else the worker's template rendered for the job."""
        problems = [p for p in self.validate(spec, ValidateContext(context.realm)) if p.is_error]
        if problems:
            raise _Problems(problems)
        try:
            return session_name(context)
        except ValueError as e:
            raise _Problems([Problem.error("CONN_APP_NAME", str(e))]) from None

    def resolve(self, spec: Dict[str, Any], context: JobContext) -> Resolved:
        """What the job gets, through the host's capabilities. Raise
        :class:`ResolveError` to fail with a message for the user."""
        raise ResolveError(f"connector type `{self.TYPE}` does not resolve connections")


class _Problems(Exception):
    def __init__(self, problems: List[Problem]):
        super().__init__(error_summary(problems))
        self.problems = problems


def _wit_problem(p: Problem) -> _wit.Problem:
    return _wit.Problem(p.field, p.message, _wit.Severity.ERROR if p.is_error else _wit.Severity.WARNING)


def _parse(spec: str) -> Dict[str, Any]:
    try:
        value = json.loads(spec)
    except ValueError as e:
        raise _Problems([Problem.error("", f"the spec is not valid JSON: {e}")]) from None
    if not isinstance(value, dict):
        raise _Problems([Problem.error("", "the spec must be a JSON object (a map of fields)")])
    return value


def _job(context: _wit.JobContext) -> JobContext:
    return JobContext(context.realm, context.job_id, context.conn_id, context.session_name_template)


def _wit_resolved(resolved: Resolved) -> _wit.Resolved:
    if not isinstance(resolved, Resolved):
        raise TypeError(f"resolve must return lava_connector.Resolved, not {type(resolved).__name__}")
    launchers = {None: None, "aws-cli": _wit.LauncherKind.AWS_CLI}
    if resolved.launcher not in launchers:
        raise ValueError(f"launcher must be one of {sorted(k for k in launchers if k)} or None")
    return _wit.Resolved(
        values=[_wit.NamedValue(v.name, v.value, v.secret) for v in resolved.values],
        expiration=resolved.expiration,
        aws=_wit_credentials(resolved.aws) if resolved.aws else None,
        launcher=launchers[resolved.launcher],
    )


def export(connector: type) -> type:
    """The class componentize-py exports for ``connector`` (a
    :class:`Connector` subclass): bind it to the name ``Connector`` in the
    app module."""
    if not (isinstance(connector, type) and issubclass(connector, Connector)) or not connector.TYPE:
        raise TypeError("export takes a lava_connector.Connector subclass with a TYPE")

    class Exported(exports.Connector):
        def describe(self) -> _wit.Descriptor:
            fields = [_wit.FieldInfo(f.name, f.type_name, f.is_required, f.description) for f in connector.FIELDS]
            return _wit.Descriptor([connector.TYPE], connector.VERSION, fields)

        def validate(self, spec: str, context: _wit.ValidateContext) -> List[_wit.Problem]:
            try:
                problems = connector().validate(_parse(spec), ValidateContext(context.realm))
            except _Problems as e:
                problems = e.problems
            return [_wit_problem(p) for p in problems]

        def session_name(self, spec: str, context: _wit.JobContext) -> str:
            try:
                return connector().session_name(_parse(spec), _job(context))
            except _Problems as e:
                raise Err([_wit_problem(p) for p in e.problems]) from None

        def resolve(self, spec: str, context: _wit.JobContext) -> _wit.Resolved:
            job = _job(context)
            try:
                return _wit_resolved(connector().resolve(_parse(spec), job))
            except _Problems as e:
                raise Err(f"the spec is invalid: {error_summary(e.problems)}") from None
            except (ResolveError, CapabilityError) as e:
                raise Err(str(e)) from None

    Exported.__name__ = Exported.__qualname__ = "Connector"
    return Exported
