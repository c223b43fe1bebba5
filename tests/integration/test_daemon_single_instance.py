"""One daemon per state directory: a second `hallwatch run` on the same configuration fails at
once, naming the PID that holds the state directory, and the first stays connected (its
`status` does not flap); once the first is killed with SIGKILL, its lock file blocks nothing and
a new daemon starts."""

import signal
import subprocess
import time

from harness import (HALLWATCH, Gateway, Mosquitto, TestFailure, Watch, gateway_config, run)

SITE = "hall-one"
ROOT = "hallwatch/v1/%s/" % SITE


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, state_dir=env.tmp))
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "the first online")
    n0 = watch.count(ROOT + "status")

    t0 = time.monotonic()
    p = subprocess.run([HALLWATCH, "run", "-c", gw.cfg], capture_output=True, text=True,
                       timeout=20)
    took = time.monotonic() - t0
    expect(p.returncode == 1, "the second daemon exited %r: %r" % (p.returncode, p.stderr))
    expect(took < 3, "the second daemon took %.1f s to give up" % took)
    want = "state directory %s is in use by hallwatch PID %d; stop it first" % (env.tmp, gw.proc.pid)
    expect(want in p.stderr, "the second daemon's stderr %r does not say %r" % (p.stderr, want))

    # The first was never knocked off the broker: no further status message for 2 s, still
    # online and running (two sessions with one client id knock each other off every ~0.4 s).
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        expect(watch.count(ROOT + "status") == n0,
               "status changed after the second start: %r" % watch.json(ROOT + "status"))
        time.sleep(0.1)
    expect(watch.json(ROOT + "status")["state"] == "online", "the first is not online")
    expect(gw.proc.alive(), "the first daemon died")

    # SIGKILL leaves the lock file behind; it must not block the next start.
    gw.proc.send(signal.SIGKILL)
    gw.proc.p.wait(10)
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "offline", 30,
                    "the killed daemon's will (offline)")
    gw2 = Gateway(env, open(gw.cfg).read(), name="hallwatch2")
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "the new one online")
    with open(env.tmp + "/hallwatch.lock") as f:
        held = f.read().strip()
    expect(held == str(gw2.proc.pid), "the lock file says %r, not %d" % (held, gw2.proc.pid))
    watch.close()
    rc = gw2.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
