"""Writes tests/unit/data/hallwatch-v0.db: a hallwatch.db as the daemon wrote it before the
database had a schema version (user_version 0, no migrations), for the upgrade test of
core/db.c (tests/unit/test_db.c).

Run it against a build of a tree before the schema version (commit 6da268f):
  HW_BUILD=/path/to/old/build /usr/bin/python3 tests/tools/make_db_v0.py OUT.db

It runs the real daemon with the Modbus simulator, a broker, the RTSP test camera and a line
protocol URL nothing listens on, so that every table holds rows: an alert raised while the
broker was up (its events delivered), one raised after the broker went (events undelivered,
their outbox records and alert/<id> records waiting), an acknowledged and closed alert (a
tombstone sent), line-protocol records waiting, and closed recorded segments."""

import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from alerts_util import Operator  # noqa: E402
from harness import (Env, Gateway, Mosquitto, Sim, Watch, free_port, gateway_config,  # noqa: E402
                     wait_until)
from videocam import FAST, TestCam, camera_cfg  # noqa: E402

SITE = "hall-v0"
ROOT = "hallwatch/v1/%s/" % SITE


def count(db, sql):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return c.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        c.close()


def main(out):
    with Env("make_db_v0") as env:
        broker = Mosquitto(env)
        sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
        cam = TestCam(env, ["/cam1"])
        state = os.path.join(env.tmp, "state")
        db = os.path.join(state, "hallwatch.db")
        cfg = gateway_config(
            SITE, mqtt_port=broker.port, influx_url="http://127.0.0.1:%d" % free_port(),
            heartbeat=1, buses=[("tcp0", sim.port, 300)],
            devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                      "interval_ms": 100, "life_check_s": 0}],
            state_dir=state) + 'alerts = { operators = [ "alice" ]; };\n' + \
            camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=2)])
        watch = Watch(broker.port)
        gw = Gateway(env, cfg)
        watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")

        # Zone 2: raised, acknowledged, cleared: closed (its removal sent).
        op = Operator(broker.port, ROOT)
        sim.set(1, "input", 102, 1)
        watch.wait_json(ROOT + "alert/facp1.zone-2.fire", lambda j: j["state"] == "unack", 10,
                        "zone 2 raised")
        op.send("ack", {"id": "facp1.zone-2.fire"}, user="alice")
        sim.set(1, "input", 102, 0)
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM alert_event WHERE json LIKE "
                                     "'%\"event\":\"cleared\"%zone-2.fire%'"), 10,
                   "zone 2 cleared")
        # Zone 3: raised and delivered while the broker is up.
        sim.set(1, "input", 103, 1)
        watch.wait_json(ROOT + "alert/facp1.zone-3.fire", lambda j: j["state"] == "unack", 10,
                        "zone 3 raised")
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM alert_event WHERE delivered = 0") == 0,
                   10, "every event delivered")
        op.close()
        watch.close()
        # The broker goes: zone 4's events and alert/<id> wait in the outbox.
        broker.stop()
        sim.set(1, "input", 104, 1)
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM alert_event WHERE delivered = 0") >= 1,
                   10, "an undelivered event")
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM outbox_msg WHERE output = 0") >= 2,
                   10, "MQTT outbox records")
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM outbox_msg WHERE output = 1") >= 2,
                   10, "line-protocol outbox records")
        wait_until(lambda: count(db, "SELECT COUNT(*) FROM video_segments WHERE end_ms IS NOT "
                                     "NULL") >= 2, 30, "two closed segments")
        rc = gw.stop()
        print("gateway exit code", rc, sorted(os.listdir(state)))
        if rc != 0:
            print(gw.proc.stderr_text()[-3000:])
        for suffix in ("", "-wal"):
            if os.path.exists(db + suffix):
                shutil.copyfile(db + suffix, out + suffix)
    # A WAL left behind is folded into the file, as the next open of the daemon would.
    c = sqlite3.connect(out)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA journal_mode=DELETE")
    for t in ("alert_state", "alert_event", "outbox_msg", "outbox_rejected", "video_segments"):
        print(t, c.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0])
    print("user_version", c.execute("PRAGMA user_version").fetchone()[0])
    c.close()


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
