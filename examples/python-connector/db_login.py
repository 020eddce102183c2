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

import lava_connector as lc

FIELDS = [
    lc.Field.required("conn_id", "string", "Connection identifier."),
    lc.Field.required("type", "string", "`db-login`."),
    lc.Field.optional("enabled", "bool", "Whether the connection may be used (default true)."),
    lc.Field.optional("description", "string", "Free text."),
    lc.Field.required("host", "string", "The database server's host name."),
    lc.Field.optional("port", "integer", "Its port, 1 to 65535 (default 5432)."),
    lc.Field.required("database", "string", "The database to connect to."),
    lc.Field.required("user", "string", "The user to log in as."),
    lc.Field.required("password_parameter", "string", "The SSM SecureString parameter holding the password."),
]


class DbLogin(lc.Connector):
    TYPE = "db-login"
    VERSION = "0.2.0"
    FIELDS = FIELDS
    NEEDS = [lc.Need.within(lc.Capability.SSM, ["/lava/{realm}/"])]

    def check(self, spec, realm):
        """Every problem of the spec, each naming its field."""
        reader = lc.SpecReader(spec)
        reader.warn_unknown(FIELDS, self.TYPE)
        conn_id = reader.required_string("conn_id")
        if conn_id == "":
            reader.error("conn_id", "must not be empty")
        reader.enabled()
        for name in ("host", "database", "user"):
            value = reader.required_string(name)
            if value is not None and (not value.strip() or any(c in value for c in "\r\n\0")):
                reader.error(name, "must be one line of text, not empty")
        reader.optional_int("port", 1, 65535)
        parameter = reader.required_string("password_parameter")
        if parameter is not None:
            if not parameter.startswith("/"):
                reader.error("password_parameter", "must be an SSM parameter name, starting with `/`")
            elif realm and not parameter.startswith(f"/lava/{realm}/"):
                # The worker decides what is readable (`ssm_prefixes`); this is
                # its default, so say so before the read is refused.
                reader.warning(
                    "password_parameter",
                    f"is outside `/lava/{realm}/`, the only SSM names this connector reads",
                )
        return reader

    def validate(self, spec, context):
        return self.check(spec, context.realm).problems

    def resolve(self, spec, context):
        reader = self.check(spec, context.realm)
        if reader.has_error:
            raise lc.ResolveError(f"the spec is invalid: {lc.error_summary(reader.problems)}")
        for p in reader.problems:
            lc.log.warn(f"connection `{context.conn_id}`: {p.field}: {p.message}")
        if not reader.enabled():
            raise lc.ResolveError(
                f'connection `{context.conn_id}` is not enabled: set `"enabled": true` to use it'
            )
        parameter = spec["password_parameter"]
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
                lc.Value("HOST", spec["host"]),
                lc.Value("PORT", str(spec.get("port", 5432))),
                lc.Value("DATABASE", spec["database"]),
                lc.Value("USER", spec["user"]),
                lc.Value("PASSWORD", password, secret=True),
            ]
        )


# The name componentize-py looks for: the world's exported interface, `connector`.
Connector = lc.export(DbLogin)
