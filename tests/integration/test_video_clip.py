"""Clips cut from the recorded segments without transcoding: a range spanning a segment boundary
and starting between key frames, cut by `hallwatch clip` (through the daemon), plays (gst-discoverer reports a
duration) and covers the requested range within one key-frame interval (1 s at 10 fps here);
a range outside the recordings is refused. A clean stop (SIGTERM) finalises the segment being
written: it is closed in the index and plays."""

import math
import os
import sqlite3
import subprocess

from harness import HALLWATCH, Gateway, Mosquitto, TestFailure, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration

GOP_S = 1.0  # hw-testcam: key-int-max = fps


def closed_rows(db_path):
    if not os.path.exists(db_path):
        return []
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT start_ms, end_ms, path FROM video_segments WHERE camera='cam1' "
                          "AND end_ms IS NOT NULL ORDER BY start_ms").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def clip(cfg, frm, to, out):
    return subprocess.run([HALLWATCH, "clip", "-c", cfg, "cam1", str(frm), str(to), out,
                           "--user", "alice"], capture_output=True, text=True, timeout=60)


def main(env):
    cam = TestCam(env, ["/cam1"])
    state = os.path.join(env.tmp, "state")
    db = os.path.join(state, "hallwatch.db")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=3)
    broker = Mosquitto(env)  # the command line's clip goes through the daemon
    cfg = (gateway_config("hall-clip", mqtt_port=broker.port, state_dir=state) + camera_cfg([c])
           + 'alerts = { operators = [ "alice" ]; };\n')
    gw = Gateway(env, cfg)
    segs = wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(closed_rows(db)), 30,
                      "three closed segments")
    # From just after the start of the second segment (between key frames, whole seconds
    # for the command line) to just before the end of the third: across a boundary.
    frm_s = int(math.ceil(segs[1][0] / 1000.0 + 0.3))
    to_s = int(math.floor(segs[2][1] / 1000.0 - 0.2))
    out = os.path.join(env.tmp, "clip.mp4")
    r = clip(gw.cfg, frm_s, to_s, out)
    if r.returncode != 0:
        raise TestFailure("clip failed (%d): %s" % (r.returncode, r.stderr))
    d = discover_duration(out)
    want = to_s - frm_s
    if d is None:
        raise TestFailure("the clip does not play")
    # Starts at the key frame at or before FROM (up to one GOP earlier), ends at TO.
    if not (want - 0.25 <= d <= want + GOP_S + 0.25):
        raise TestFailure("clip of %d s lasts %.2f s" % (want, d))
    print("clip [%d, %d) over %d segments: %.2f s (wanted %d s, GOP %.1f s)" %
          (frm_s, to_s, len(segs), d, want, GOP_S))

    # Nothing recorded there: refused, no file left.
    none = os.path.join(env.tmp, "none.mp4")
    r = clip(gw.cfg, 1000000, 1000010, none)
    if r.returncode == 0 or os.path.exists(none):
        raise TestFailure("a clip outside the recordings was accepted")

    # A clean stop finalises the segment being written.
    n_before = len(closed_rows(db))
    if gw.stop() != 0:
        raise TestFailure("the gateway did not exit cleanly")
    db_ = sqlite3.connect(db)
    open_ = db_.execute("SELECT path FROM video_segments WHERE end_ms IS NULL").fetchall()
    db_.close()
    rows = closed_rows(db)
    if open_ or len(rows) <= n_before:
        raise TestFailure("after SIGTERM: %d open rows, %d closed (before %d)" %
                          (len(open_), len(rows), n_before))
    last = rows[-1][2]
    if discover_duration(last) is None:
        raise TestFailure("the last segment does not play after a clean stop: %s" % last)
    print("clean stop: last segment %s closed and playable" % os.path.basename(last))


if __name__ == "__main__":
    run(main)
