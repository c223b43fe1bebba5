"""Emergency-lighting tests run by the gateway against the independent pymodbus controller
(tests/tools/pymodbus_elc.py; eltest_util.py says what is checked)."""

import os

from eltest_util import ELC, FACP, scenario
from harness import PYTHON, SRC, Sim, free_port, run


class PymodbusElc(Sim):
    def __init__(self, env):
        self.env = env
        self.port = free_port()
        self.args = [PYTHON, os.path.join(SRC, "tests", "tools", "pymodbus_elc.py"),
                     "--elc", str(ELC), "--facp", str(FACP), "--tick-ms", "500"]
        self.start()

    def starts(self, kind):
        return int(self.command("starts %d %s" % (ELC, kind)))

    def test_length(self, ticks):
        self.command("testlen %d %d" % (ELC, ticks))


def main(env):
    scenario(env, PymodbusElc(env))


if __name__ == "__main__":
    run(main)
