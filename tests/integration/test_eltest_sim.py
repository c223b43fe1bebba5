"""Emergency-lighting tests run by the gateway against hw-sim (eltest_util.py says what)."""

from eltest_util import ELC, FACP, scenario
from harness import Sim, run


class ElSim(Sim):
    def starts(self, kind):
        return int(self.command("starts %d %s" % (ELC, kind)))

    def test_length(self, ticks):
        self.command("testlen %d %d" % (ELC, ticks))


def main(env):
    sim = ElSim(env, facp=(FACP,), elc=(ELC,), extra=["--tick-ms", "500"])
    scenario(env, sim)


if __name__ == "__main__":
    run(main)
