"""The annual duration test run by the gateway end to end against the independent pymodbus
controller (tests/tools/pymodbus_elc.py; eltest_duration_util.py says what is checked)."""

import os

from eltest_duration_util import ELC, FACP, scenario
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

    def test_length(self, ticks, kind="function"):
        self.command("testlen %d %d %s" % (ELC, ticks, kind))

    def battery(self, minutes):
        self.command("battery %d %d" % (ELC, minutes))


def main(env):
    scenario(env, PymodbusElc(env))


if __name__ == "__main__":
    run(main)
