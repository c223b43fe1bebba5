"""Video supervision against the RTSP test camera: the camera state appears and recording
runs; black, frozen, blurred and moved pictures each raise their condition on
camera/<id>/state and clear when the picture recovers; the camera stops -> offline within
the configured time -> comes back -> recording resumes by itself. Credentials never logged."""

import sqlite3
import os

from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-video"
TOPIC = "hallwatch/v1/%s/camera/cam1/state" % SITE
SECRET = "pw-never-logged"


ALERTS = "hallwatch/v1/%s/alert/" % SITE


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), username="admin", password=SECRET)
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
                 + camera_cfg([c]))
    j = watch.wait_json(TOPIC, lambda j: j["online"] and j["fps"] > 5 and j["recording"], 15,
                        "cam1 online and recording")
    if (j["width"], j["height"]) != (320, 180) or j["codec"] != "h264":
        raise TestFailure("resolution/codec: %r" % j)
    # Enough analysed frames for the sharpness baseline before the tamper checks.
    watch.wait_json(TOPIC, lambda j: j["segments"] >= 1, 15, "a first segment")

    for cmd, cond in (("black", "dark"), ("freeze", "frozen"), ("blur", "defocus"),
                      ("scene", "moved")):
        cam.command("%s /cam1" % cmd)
        watch.wait_json(TOPIC, lambda j: j["conditions"][cond]["active"] and j[cond], 12,
                        "%s to raise %s" % (cmd, cond))
        # ... and an alert through the alert engine: P3, unacknowledged.
        al = watch.wait_json(ALERTS + "cam1." + cond, lambda a: a["state"] == "unack", 5,
                             "the cam1.%s alert" % cond)
        if al["priority"] != 3:
            raise TestFailure("cam1.%s alert priority %r" % (cond, al["priority"]))
        cam.command("normal /cam1")
        j = watch.wait_json(TOPIC, lambda j: not j["conditions"][cond]["active"], 12,
                            "%s to clear" % cond)
        # Cleared before anyone acknowledged it: returned unacknowledged, still listed.
        watch.wait_json(ALERTS + "cam1." + cond, lambda a: a["state"] == "rtn_unack", 5,
                        "the cam1.%s alert cleared (rtn_unack)" % cond)
        others = [k for k, v in j["conditions"].items() if v["active"]]
        print("%s -> %s raised and cleared; active now: %s" % (cmd, cond, others))

    j = watch.json(TOPIC)
    reconnects, segments = j["reconnects"], j["segments"]
    cam.command("stop /cam1")
    j = watch.wait_json(TOPIC, lambda j: j["conditions"]["offline"]["active"] and not j["online"],
                        FAST["offline_after_s"] + 3, "offline within offline_after_s")
    if j["recording"]:
        raise TestFailure("recording while offline: %r" % j)
    watch.wait_json(ALERTS + "cam1.offline", lambda a: a["state"] == "unack", 5,
                    "the cam1.offline alert")
    cam.command("start /cam1")
    watch.wait_json(TOPIC, lambda j: j["online"] and not j["conditions"]["offline"]["active"]
                    and j["reconnects"] > reconnects, 15, "back online after a reconnect")
    watch.wait_json(TOPIC, lambda j: j["segments"] >= segments + 1 and j["recording"], 15,
                    "recording resumed")
    db = sqlite3.connect(os.path.join(state, "hallwatch.db"))
    n = db.execute("SELECT count(*) FROM video_segments WHERE camera='cam1' AND end_ms IS NOT NULL"
                   ).fetchone()[0]
    if n < segments + 1:
        raise TestFailure("index holds %d closed segments, state says %d" % (n, segments + 1))
    gw.stop()
    if SECRET in gw.proc.stderr_text():
        raise TestFailure("the camera password appears in the log")
    watch.close()


if __name__ == "__main__":
    run(main)
