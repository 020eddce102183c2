"""A connector type written in Python: `db-login` hands a job a database
login whose password lives in SSM, as typed values.

    {"conn_id": "warehouse", "type": "db-login", "enabled": true,
     "host": "warehouse.internal", "port": 5432, "database": "sales",
     "user": "etl", "password_parameter": "/lava/prod/warehouse/password"}

The job gets HOST, PORT, DATABASE and USER, and PASSWORD as a secret value
(`lava-conn resolve --format json` shows them under `values`). The password is
read during `resolve` only: the connector declares SSM reads under
`/lava/{realm}/` and nothing else (`NEEDS`), the worker allows them in
`[policy.db-login]`, and the host refuses any other name, and every other
capability, before anything is sent.

Built with the lava_connector SDK (`sdk/python`) by `./dev plugins`:

    componentize-py -d wit/v0.3.0 -w plugin componentize db_login \\
        -p examples/python-connector -p sdk/python -o target/plugins/db-login.wasm
"""

import dataclasses
from typing import Optional

import lava_connector as lc


@dataclasses.dataclass
class DbLoginSpec:
    """A `db-login` connection's own fields (the SDK reads `conn_id`, `type`,
    `enabled` and `description` for every connector)."""

    host: str = lc.spec_field(doc="The database server's host name.")
    database: str = lc.spec_field(doc="The database to connect to.")
    user: str = lc.spec_field(doc="The user to log in as.")
    password_parameter: str = lc.spec_field(doc="The SSM SecureString parameter holding the password.")
    port: Optional[int] = lc.spec_field(None, doc="Its port, 1 to 65535 (default 5432).")


class DbLogin(lc.Connector):
    TYPE = "db-login"
    VERSION = "0.3.0"
    SPEC = DbLoginSpec
    NEEDS = [lc.Need.within(lc.Capability.SSM, ["/lava/{realm}/"])]

    def check(self, spec, context, reader):
        for name in ("host", "database", "user"):
            value = getattr(spec, name)
            if not value.strip() or any(c in value for c in "\r\n\0"):
                reader.error(name, "must be one line of text, not empty")
        if spec.port is not None and not 1 <= spec.port <= 65535:
            reader.error("port", f"must be 1 to 65535, not {spec.port}")
        if not spec.password_parameter.startswith("/"):
            reader.error("password_parameter", "must be an SSM parameter name, starting with `/`")
        elif context.realm and not spec.password_parameter.startswith(f"/lava/{context.realm}/"):
            # The connector declares `/lava/{realm}/` only: say so before the read is refused.
            reader.warning(
                "password_parameter",
                f"is outside `/lava/{context.realm}/`, the only SSM names this connector reads",
            )

    def resolve(self, spec, context):
        parameter = spec.password_parameter
        try:
            password = lc.ssm.get_parameter(parameter)
        except lc.NotFound:
            raise lc.ResolveError(
                f"password_parameter: `{parameter}` does not exist; create it as a SecureString"
            ) from None
        except lc.NotGranted as e:
            raise lc.ResolveError(
                f"password_parameter: `{parameter}` is not readable ({e}); "
                f"keep it under `/lava/{context.realm}/`"
            ) from None
        return lc.Resolved(
            values=[
                lc.Value("HOST", spec.host),
                lc.Value("PORT", str(spec.port or 5432)),
                lc.Value("DATABASE", spec.database),
                lc.Value("USER", spec.user),
                lc.Value("PASSWORD", password, secret=True),
            ]
        )


# The name componentize-py looks for: the world's exported interface, `connector`.
Connector = lc.export(DbLogin)
