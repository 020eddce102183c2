"""A hostile connector written in Python (type `py-hostile`), for the
component tests: its spec's `attack` says how it misbehaves in `validate`."""

import time

import lava_connector as lc


class PyHostile(lc.Connector):
    TYPE = "py-hostile"
    VERSION = "0.0.1"
    FIELDS = [lc.Field.optional("attack", "string", "raise, loop, memory or sleep")]

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


Connector = lc.export(PyHostile)
