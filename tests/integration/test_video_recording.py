"""Recording against the RTSP test camera: SIGKILL the gateway while recording -> after the
restart every segment on disk plays (gst-discoverer reports a duration) and is in the index;
retention deletes oldest first when the disk budget is hit; a snapshot from the command line
(through the daemon) is a JPEG of the camera's size. (Clips: not covered yet, see docs/video.md.)"""

import os
import signal
import sqlite3
import subprocess
import time

from harness import HALLWATCH, Gateway, Mosquitto, TestFailure, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration, jpeg_size


def rows(db_path):
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT id, start_ms, end_ms, path, bytes FROM video_segments "
                          "WHERE camera='cam1' ORDER BY start_ms").fetchall()
    except sqlite3.OperationalError:  # the database exists before the video table does
        return []
    finally:
        db.close()


def main(env):
    cam = TestCam(env, ["/cam1"])
    state = os.path.join(env.tmp, "state")
    db = os.path.join(state, "hallwatch.db")
    segdir = os.path.join(state, "video", "cam1")
    # 6 s segments: the killed one is 4 s in, past its first fragments (the muxer gets a GOP
    # late from splitmuxsink, and the moov goes out with the first 1 s fragment).
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=6)
    broker = Mosquitto(env)  # the command line's snapshot goes through the daemon
    cfg = (gateway_config("hall-rec", mqtt_port=broker.port, state_dir=state) + camera_cfg([c])
           + 'alerts = { operators = [ "alice" ]; };\n')
    gw = Gateway(env, cfg)

    # Crash safety: kill -9 well inside a segment, after its first fragments.
    def ready_to_kill():
        r = rows(db) if os.path.exists(db) else []
        closed = [x for x in r if x[2]]
        open_ = [x for x in r if not x[2]]
        return len(closed) >= 2 and open_ and time.time() * 1000 - open_[-1][1] > 4000
    wait_until(ready_to_kill, 30, "two closed segments and one 4 s into recording",
               interval=0.05)
    gw.stop(signal.SIGKILL)
    killed = [x for x in rows(db) if not x[2]]
    gw = Gateway(env, cfg, name="hallwatch2")
    wait_until(lambda: any(x[2] for x in rows(db) if x[3] == killed[0][3]), 10,
               "the killed segment repaired in the index")

    # Snapshot from the command line, through the daemon: a JPEG of the camera's size.
    snap = os.path.join(env.tmp, "snap.jpg")

    def snapshot():
        r = subprocess.run([HALLWATCH, "snapshot", "-c", gw.cfg, "cam1", snap, "--user", "alice"],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0 and "not_ready" not in r.stderr:
            raise TestFailure("snapshot failed: %s" % r.stderr)
        return r.returncode == 0
    wait_until(snapshot, 20, "a snapshot from the command line", interval=0.2)
    if jpeg_size(snap) != (320, 180):
        raise TestFailure("snapshot size %r" % (jpeg_size(snap),))
    gw.stop()
    indexed = {x[3] for x in rows(db)}
    files = sorted(os.path.join(segdir, f) for f in os.listdir(segdir))
    for f in files:
        if f not in indexed:
            raise TestFailure("%s is on disk but not in the index" % f)
        d = discover_duration(f)
        if d is None:
            raise TestFailure("%s does not play" % f)
    kd = discover_duration(killed[0][3])
    print("%d segments on disk, all indexed and playable; killed one: %.2f s" % (len(files), kd))


    # Retention: a budget of ~3 segments deletes the oldest first.
    before = rows(db)
    c2 = dict(c, disk_budget_mb=0.2)
    gw = Gateway(env, gateway_config("hall-rec", state_dir=state) + camera_cfg([c2]),
                 name="hallwatch3")

    def trimmed():
        r = [x for x in rows(db) if x[2]]
        return r if r and sum(x[4] for x in r) <= 0.2 * 1048576 and \
            r[0][1] > before[0][1] else None
    after = wait_until(trimmed, 20, "retention to trim to the budget")
    gone = [x for x in before if x[3] not in {y[3] for y in rows(db)}]
    kept = [x for x in before if x[3] in {y[3] for y in rows(db)}]
    if not gone or (kept and max(x[1] for x in gone) > min(x[1] for x in kept)):
        raise TestFailure("retention did not delete oldest first: gone %r kept %r" % (gone, kept))
    for x in gone:
        if os.path.exists(x[3]):
            raise TestFailure("deleted segment still on disk: %s" % x[3])
    print("retention: %d deleted oldest first, %d kept, %d bytes" %
          (len(gone), len(after), sum(x[4] for x in after)))
    gw.stop()


if __name__ == "__main__":
    run(main)
