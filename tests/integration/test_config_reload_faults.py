"""A reload never stops a running daemon: SIGHUP with an @include of a directory (which made
libconfig's scanner end the process), of a FIFO (which blocked the loop), and with a
configuration that loads but cannot start (a state_dir that cannot be created) is refused with
FILE:LINE of the fault, and the gateway goes on polling and publishing on the previous
configuration; a valid reload after them is taken."""

import os
import signal
import time

from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-reload"
ROOT = "hallwatch/v1/%s/" % SITE
STATE = ROOT + "device/facp1/state"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=())
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")

    def cfg(state_dir=state, extra=""):
        return gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                              buses=[("tcp0", sim.port, 300)],
                              devices=[{"id": "facp1", "bus": "tcp0", "unit": 1,
                                        "profile": "facp-generic", "interval_ms": 200,
                                        "intervals": {"analog": 200}}],
                              state_dir=state_dir) + extra

    gw = Gateway(env, cfg())
    watch.wait_json(STATE, lambda j: j["online"], 10, "facp1 online")
    volts = [2200]

    def still_polling(what):
        """The old configuration still runs: a register change reaches MQTT."""
        volts[0] += 1
        sim.set(1, "input", 6, volts[0])
        watch.wait_json(STATE, lambda j: j["online"] and
                        abs(j["points"]["mains_voltage"]["v"] - volts[0] / 10.0) < 1e-9, 5,
                        "publishing after " + what)
        expect(gw.proc.alive(), "the gateway died after " + what)

    def hup(text, log_line, what, timeout=5):
        """Rewrites the file, sends SIGHUP and waits for log_line one time more than before."""
        before = gw.proc.stderr_text().count(log_line)
        gw.rewrite(text)
        t0 = time.monotonic()
        gw.proc.send(signal.SIGHUP)
        wait_until(lambda: gw.proc.stderr_text().count(log_line) > before, timeout,
                   "%r after %s" % (log_line, what))
        print("%s: %r in %.0f ms" % (what, log_line, (time.monotonic() - t0) * 1000))

    def logged(needle, what):
        expect(needle in gw.proc.stderr_text(), "%s: the log lacks %r" % (what, needle))

    # An @include of a directory: refused at the directive's line.
    os.mkdir(os.path.join(env.tmp, "conf.d"))
    hup(cfg(extra='@include "conf.d"\n'), "reload refused", "@include of a directory")
    logged('%s:%d: @include "conf.d": cannot read %s/conf.d: it is a directory'
           % (gw.cfg, cfg().count("\n") + 1, env.tmp), "directory")
    still_polling("the directory reload")

    # An @include of a FIFO nobody writes: refused at once, the loop never blocks.
    os.mkfifo(os.path.join(env.tmp, "pipe.cfg"))
    hup(cfg(extra='\n@include "pipe.cfg"\n'), "reload refused", "@include of a FIFO")
    logged('%s:%d: @include "pipe.cfg": cannot read %s/pipe.cfg: not a regular file (a FIFO)'
           % (gw.cfg, cfg().count("\n") + 2, env.tmp), "FIFO")
    still_polling("the FIFO reload")

    # Loads, but cannot start: the state_dir is under a regular file.
    blocker = os.path.join(env.tmp, "blocker")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    hup(cfg(state_dir=os.path.join(blocker, "state")), "still running on the previous "
        "configuration", "a state_dir that cannot be created")
    logged("reload failed: the new configuration does not start", "start failure")
    still_polling("the failed start")
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 5, "status online")

    # A valid reload is taken afterwards.
    hup(cfg(), "configuration reloaded", "a valid reload")
    still_polling("the valid reload")
    rc = gw.stop()
    expect(rc == 0, "exit code %r after SIGTERM" % rc)
    watch.close()


if __name__ == "__main__":
    run(main)
