"""db-login in the real host, as a worker runs it: the component the
author built, sandboxed, given only what the worker's policy grants, its AWS
a moto server that records what reached it.

    componentize-py -d wit/v0.3.0 -w plugin componentize db_login \\
        -p examples/python-connector -p sdk/python -o db-login.wasm
    LAVA_CONN_TEST_COMPONENT=db-login.wasm LAVA_CONN_BIN=target/debug/lava-conn \\
        PYTHONPATH=sdk/python-testkit python examples/python-connector/test_db_login.py
"""

import os
import unittest

from lava_conn_testkit import HostFailed, TestHost

# What an operator grants the type in lava-conn.toml.
POLICY = '[policy.db-login]\nssm = ["/lava/{realm}/"]\n'
SPEC = {"conn_id": "warehouse", "type": "db-login", "enabled": True, "host": "warehouse.internal",
        "database": "sales", "user": "etl", "password_parameter": "/lava/prod/warehouse/password"}


class DbLoginInTheHost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        parameters = {"/lava/prod/warehouse/password": "hunter2", "/lava/dev/password": "not-for-prod"}
        cls.host = TestHost(os.environ["LAVA_CONN_TEST_COMPONENT"], config=POLICY, parameters=parameters)

    @classmethod
    def tearDownClass(cls):
        cls.host.close()

    def test_a_job_gets_the_login_and_aws_saw_one_read(self):
        self.assertEqual(self.host.validate(SPEC, realm="prod"), [])
        before = len(self.host.aws_calls())
        resolved = self.host.resolve(SPEC, realm="prod", job_id="j1")
        self.assertEqual(resolved["values"]["PASSWORD"], "hunter2")
        self.assertEqual(resolved["values"]["HOST"], "warehouse.internal")
        self.assertEqual(self.host.aws_calls()[before:], ["ssm:/lava/prod/warehouse/password"])

    def test_every_problem_names_its_field(self):
        bad = dict(SPEC, port=70000, colour="red")
        fields = [(p["field"], p["severity"]) for p in self.host.validate(bad, realm="prod")]
        self.assertEqual(fields, [("colour", "error"), ("port", "error")])
        del bad["user"]  # a field it cannot read: the rules over the spec wait for it
        fields = [(p["field"], p["severity"]) for p in self.host.validate(bad, realm="prod")]
        self.assertEqual(fields, [("colour", "error"), ("user", "error")])

    def test_a_parameter_outside_the_realm_is_refused_before_it_reaches_aws(self):
        spec = dict(SPEC, password_parameter="/lava/dev/password")
        [warning] = self.host.validate(spec, realm="prod")
        self.assertEqual((warning["field"], warning["severity"]), ("password_parameter", "warning"))
        before = len(self.host.aws_calls())
        with self.assertRaises(HostFailed) as refused:
            self.host.resolve(spec, realm="prod", job_id="j1")
        self.assertIn("/lava/dev/password", str(refused.exception))
        self.assertNotIn("not-for-prod", str(refused.exception))
        self.assertEqual(self.host.aws_calls()[before:], [])


if __name__ == "__main__":
    unittest.main()
