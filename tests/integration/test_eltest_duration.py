"""The annual duration test run by the gateway end to end against hw-sim
(eltest_duration_util.py says what is checked)."""

from eltest_duration_util import ELC, FACP, scenario
from harness import Sim, run


class ElSim(Sim):
    def starts(self, kind):
        return int(self.command("starts %d %s" % (ELC, kind)))

    def test_length(self, ticks, kind="function"):
        self.command("testlen %d %d %s" % (ELC, ticks, kind))

    def battery(self, minutes):
        self.command("battery %d %d" % (ELC, minutes))


def main(env):
    scenario(env, ElSim(env, facp=(FACP,), elc=(ELC,), extra=["--tick-ms", "500"]))


if __name__ == "__main__":
    run(main)
