"""A stop while InfluxDB cannot be reached: the line-protocol writer takes its time to give
up, the heartbeat comes due meanwhile, and the daemon must still exit cleanly (status 0)
with its database closed (no WAL left: the last connection checkpoints it). The heartbeat
used to read the alert service after it was freed, and the daemon died by SIGSEGV."""

import os

from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, free_port, gateway_config,
                     run, wait_until)

SITE = "hall-stop"
ROOT = "hallwatch/v1/%s/" % SITE


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=())
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url="http://127.0.0.1:%d" % free_port(),
        heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=state)
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    wait_until(lambda: "keeping" in gw.proc.stderr_text(), 10, "line protocol kept for later")
    watch.close()
    rc = gw.stop()
    if rc != 0:
        raise TestFailure("gateway exit code %r at stop:\n%s" % (rc, gw.proc.stderr_text()[-3000:]))
    wal = os.path.join(state, "hallwatch.db-wal")
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise TestFailure("the database was not closed: %s holds %d bytes"
                          % (wal, os.path.getsize(wal)))


if __name__ == "__main__":
    run(main)
