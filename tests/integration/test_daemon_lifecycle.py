"""The command line and the daemon's life: check-config on the shipped example and
on a broken file, SIGTERM stopping within 5 s with what is queued flushed to InfluxDB."""

import os
import signal
import subprocess
import time

from harness import (HALLWATCH, SRC, Gateway, Influxd, Mosquitto, Sim, TestFailure, Watch,
                     gateway_config, run, wait_until)

SITE = "hall-life"
ROOT = "hallwatch/v1/%s/" % SITE


def main(env):
    ex = subprocess.run([HALLWATCH, "check-config", "-c", os.path.join(SRC, "etc", "hallwatch.cfg")],
                        capture_output=True, text=True, timeout=10)
    if ex.returncode != 0:
        raise TestFailure("the shipped example is refused: %s" % ex.stderr)

    bad = os.path.join(env.tmp, "bad.cfg")
    with open(bad, "w") as f:
        f.write('site = { id = "x"; };\nmqtt = { port = 99999; };\nbogus = 1;\n')
    r = subprocess.run([HALLWATCH, "check-config", "-c", bad], capture_output=True, text=True, timeout=10)
    if r.returncode != 1:
        raise TestFailure("check-config on a broken file exited %d" % r.returncode)
    lines = r.stderr.strip().splitlines()
    if not any(l.startswith(bad + ":2: ") for l in lines) or not any(l.startswith(bad + ":3: ") for l in lines):
        raise TestFailure("errors do not name FILE:LINE for both bad lines: %r" % lines)
    r = subprocess.run([HALLWATCH, "run", "-c", bad], capture_output=True, text=True, timeout=10)
    if r.returncode != 1:
        raise TestFailure("run on a broken file exited %d" % r.returncode)

    broker = Mosquitto(env)
    influx = Influxd(env)
    sim = Sim(env, facp=(1,), elc=())
    watch = Watch(broker.port)
    # Batches that would wait 60 s: only the shutdown flush can deliver them in time.
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, influx_url=influx.url,
        extra_influx="batch_size = 100000; flush_interval_ms = 60000;",
        buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 200}], state_dir=env.tmp))
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    if influx.rows("SELECT count(value) FROM device_point"):
        raise TestFailure("points were written before the flush interval")

    t0 = time.monotonic()
    rc = gw.stop(signal.SIGTERM, timeout=10)
    took = time.monotonic() - t0
    print("SIGTERM -> exit: %.0f ms, exit code %d" % (took * 1000, rc))
    if rc != 0 or took > 5.0:
        raise TestFailure("SIGTERM: exit code %d after %.1f s" % (rc, took))
    rows = influx.rows("SELECT count(value) FROM device_point WHERE device='facp1'")
    if not rows or rows[0]["count"] < 5:
        raise TestFailure("the queue was not flushed at exit: %r" % rows)
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "offline", 5, "status offline after a clean stop")
    watch.close()


if __name__ == "__main__":
    run(main)
