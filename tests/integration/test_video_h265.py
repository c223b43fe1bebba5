"""H.265 ingest against the RTSP test camera serving H.265 (x265): the gateway reports the
camera online with codec "h265" and the camera's size on camera/<id>/state, decodes and
analyses its pictures (a black picture raises dark, which clears), records segments that
gst-discoverer reports as H.265 and playable with a duration, all of them in the index, and
a snapshot of it is a JPEG of the camera's size."""

import os
import sqlite3
import subprocess

from harness import HALLWATCH, Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, \
    wait_until
from videocam import FAST, TestCam, camera_cfg, discover, jpeg_size

SITE = "hall-h265"
TOPIC = "hallwatch/v1/%s/camera/cam1/state" % SITE


def closed_rows(db_path):
    if not os.path.exists(db_path):
        return []
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT start_ms, end_ms, path, bytes FROM video_segments "
                          "WHERE camera='cam1' AND end_ms IS NOT NULL ORDER BY start_ms").fetchall()
    except sqlite3.OperationalError:  # the database exists before the video table does
        return []
    finally:
        db.close()


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"], extra=["--codec", "h265"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    db = os.path.join(state, "hallwatch.db")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=3)
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
                 + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')

    j = watch.wait_json(TOPIC, lambda j: j["online"] and j["fps"] > 5 and j["recording"], 20,
                        "cam1 online and recording")
    if j["codec"] != "h265" or (j["width"], j["height"]) != (320, 180):
        raise TestFailure("codec/resolution: %r" % j)
    # The pictures are decoded and analysed: a black picture raises dark, and it clears.
    cam.command("black /cam1")
    watch.wait_json(TOPIC, lambda j: j["conditions"]["dark"]["active"] and j["dark"], 12,
                    "black to raise dark")
    cam.command("normal /cam1")
    watch.wait_json(TOPIC, lambda j: not j["conditions"]["dark"]["active"], 12, "dark to clear")
    watch.wait_json(TOPIC, lambda j: j["segments"] >= 2, 20, "two closed segments")

    rows = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(closed_rows(db)), 10,
                      "two closed segments in the index")
    for start, end, path, size in rows:
        if not os.path.exists(path) or os.path.getsize(path) != size or size == 0:
            raise TestFailure("segment %s: missing or not the indexed size %d" % (path, size))
        d, video = discover(path)
        if d is None or not video or not video.startswith("H.265"):
            raise TestFailure("segment %s: duration %r, video %r" % (path, d, video))
        # segment_s = 3 at a GOP of 1 s: each closed segment holds about 3 s.
        if not 1.5 <= d <= 4.5:
            raise TestFailure("segment %s lasts %.2f s" % (path, d))
    print("%d closed H.265 segments, all playable: %s" %
          (len(rows), ", ".join("%.2f s" % discover(r[2])[0] for r in rows)))

    snap = os.path.join(env.tmp, "snap.jpg")
    r = subprocess.run([HALLWATCH, "snapshot", "-c", gw.cfg, "cam1", snap, "--user", "alice"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise TestFailure("snapshot failed: %s" % r.stderr)
    if jpeg_size(snap) != (320, 180):
        raise TestFailure("snapshot size %r" % (jpeg_size(snap),))
    print("snapshot: JPEG 320x180")
    gw.stop()
    watch.close()


if __name__ == "__main__":
    run(main)
