"""What a camera's consumers get, now that they are fed by the hub: the camera_health line in
InfluxDB with every documented field, camera/<id>/state again after the broker lost it (a
reconnect), and a condition as state, alert and line at once.

The gateway's heartbeat is off (heartbeat_s = 0): the cameras' own republishing then waits
60 s, so a steady camera's state coming back within seconds of a broker restart is the
reconnect's doing."""

import os

from harness import (Gateway, Influxd, Mosquitto, TestFailure, Watch, gateway_config, run,
                     wait_until)
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-hubcam"
TOPIC = "hallwatch/v1/%s/camera/cam1/state" % SITE
ALERT = "hallwatch/v1/%s/alert/cam1.dark" % SITE
CONDITIONS = ("offline", "video_loss", "dark", "covered", "defocus", "moved", "frozen",
              "recording_fault", "disk_low", "retention_short")
FIELDS = ("online", "recording", "fps", "bitrate_kbps", "expected_fps", "width", "height",
          "reconnects", "segments", "recorded_bytes") + CONDITIONS


def health_rows(influx):
    return influx.rows("SELECT * FROM camera_health WHERE camera = 'cam1'")


def main(env):
    broker = Mosquitto(env)
    influx = Influxd(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), record=False)
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, influx_url=influx.url, heartbeat=0,
                                state_dir=state) + camera_cfg([c]))
    watch.wait_json(TOPIC, lambda j: j["online"] and j["width"] == 320, 15, "cam1 online")

    # The change to online wrote a camera_health line.
    rows = wait_until(lambda: [r for r in health_rows(influx)
                               if r.get("online") is True and r.get("width") == 320], 10,
                      "a camera_health line of cam1 online")
    r = rows[-1]
    missing = [f for f in FIELDS if r.get(f) is None]
    if missing or r.get("site") != SITE or r["expected_fps"] != 10 or r["height"] != 180:
        raise TestFailure("camera_health line: missing %s in %r" % (missing, r))
    print("camera_health: %d line(s), fields as documented" % len(rows))

    # The broker restarts without its retained messages; the gateway reconnects and
    # publishes the camera's state again.
    seq = watch.json(TOPIC)["seq"]
    watch.close()
    broker.stop()
    broker.start()
    watch = Watch(broker.port)
    j = watch.wait_json(TOPIC, lambda j: j["online"] and j["seq"] > seq, 20,
                        "camera/cam1/state again after the broker restart")
    print("after the reconnect: seq %d -> %d" % (seq, j["seq"]))

    # A condition: state, alert and line.
    cam.command("black /cam1")
    watch.wait_json(TOPIC, lambda j: j["dark"] and j["conditions"]["dark"]["active"], 12,
                    "dark in camera/cam1/state")
    watch.wait_json(ALERT, lambda a: a["state"] == "unack", 5, "the cam1.dark alert")
    wait_until(lambda: any(r.get("dark") is True for r in health_rows(influx)), 10,
               "a camera_health line with dark=true")
    print("dark: state, alert and camera_health line")
    watch.close()


if __name__ == "__main__":
    run(main)
