"""A hostile connector written in Python (type `py-hostile`), for the
component tests: its spec's `attack` says how it misbehaves in `validate`.
Its `resolve` goes through every capability wrapper of the SDK."""

import time

import lava_connector as lc


class PyHostile(lc.Connector):
    TYPE = "py-hostile"
    VERSION = "0.0.1"
    FIELDS = [lc.Field.optional("attack", "string", "raise, loop, memory or sleep")]
    # Declares SSM, STS, Redshift and RDS tokens; its worker policy grants
    # all but Redshift; it never declares Secrets Manager.
    NEEDS = [
        lc.Need.any(lc.Capability.SSM),
        lc.Need.any(lc.Capability.STS),
        lc.Need.any(lc.Capability.REDSHIFT),
        lc.Need.within(lc.Capability.RDS_TOKEN, ["*.example.com"]),
    ]

    def validate(self, spec, context):
        attack = spec.get("attack")
        if attack == "raise":
            raise RuntimeError("the plugin gave up on purpose")
        if attack == "loop":
            while True:
                pass
        if attack == "memory":
            hoard = bytearray(200 << 20)
            return [lc.Problem.error("", f"held {len(hoard)} bytes")]
        if attack == "sleep":
            time.sleep(0.3)
        return []

    def resolve(self, spec, context):
        lc.log.info(f"probing for job {context.job_id}")
        credentials = lc.sts.assume_role(
            spec["role_arn"],
            lc.session_name(context),
            900,
            tags={"team": "data"},
            external_id="py-ext",
        )
        values = [lc.Value("DURATION", lc.config.get("AWS_CONN_DURATION") or "unset")]
        for name in ("/lava/other-realm/x", "/lava/prod/missing"):
            try:
                lc.ssm.get_parameter(name)
            except lc.CapabilityError as e:
                values.append(lc.Value(name.split("/")[2].replace("-", "_").upper(), type(e).__name__))
        try:
            lc.worker_credentials.get()
        except lc.CapabilityError as e:
            values.append(lc.Value("WORKER", type(e).__name__))
        token = lc.rds.generate_auth_token("db.example.com", 5432, "etl")
        values.append(lc.Value("RDS", token.split("&")[0]))
        for name, call in (
            ("SECRET", lambda: lc.secrets_manager.get_secret_value("app/db")),
            ("REDSHIFT", lambda: lc.redshift.get_cluster_credentials("warehouse", "etl")),
            ("SERVERLESS", lambda: lc.redshift.get_serverless_credentials("analytics")),
        ):
            try:
                call()
            except lc.CapabilityError as e:
                values.append(lc.Value(name, type(e).__name__))
        return lc.Resolved(values=values, expiration=credentials.expiration, aws=credentials)


Connector = lc.export(PyHostile)
