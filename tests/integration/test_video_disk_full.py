"""Recording onto a full disk: the camera's recordings directory is a small tmpfs that a filler
keeps full. Within a few seconds camera/<id>/state says recording false with recording_fault
active, the cam1.recording_fault alert is raised and the log says so once, while the camera
stays online without a reconnect (only recording stops). disk_low follows the free space as
documented. Space back -> recording resumes by itself, a segment closes, the fault clears (said
once), and every file left on disk is a closed segment in the index."""

import errno
import json
import os
import sqlite3
import subprocess
import threading
import time

from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-disk"
TOPIC = "hallwatch/v1/%s/camera/cam1/state" % SITE
ALERTS = "hallwatch/v1/%s/alert/" % SITE


class Filler:
    """Keeps the file system of path full: appends until ENOSPC, then again whenever space
    appears (as another writer on a shared disk would), until stopped."""

    def __init__(self, path):
        self.path = path
        self.stop_ev = threading.Event()
        self.full = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        chunk = b"\0" * 65536
        with open(self.path, "ab", buffering=0) as f:
            while not self.stop_ev.is_set():
                try:
                    f.write(chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    self.full.set()
                    self.stop_ev.wait(0.02)  # pacing of the filler, not a synchronisation

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)
        if os.path.exists(self.path):
            os.unlink(self.path)


def states_since(watch, t0):
    with watch.lock:
        return [(t, json.loads(p)) for t, topic, p, _ in watch.msgs if topic == TOPIC and t >= t0]


def main(env):
    state = os.path.join(env.tmp, "state")
    rec = os.path.join(state, "video", "cam1")
    os.makedirs(rec)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0750", "tmpfs", rec], check=True)
    filler = gw = None
    t_wall = time.time()
    try:
        broker = Mosquitto(env)
        cam = TestCam(env, ["/cam1"])
        watch = Watch(broker.port)
        # disk_low below 1 MiB free; 2 s segments so that a write error shows within seconds.
        c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=2, disk_min_free_mb=1)
        gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                                         state_dir=state) + camera_cfg([c]), log_level="debug")
        j = watch.wait_json(TOPIC, lambda j: j["online"] and j["recording"] and j["segments"] >= 1,
                            20, "cam1 online, recording, a first segment")
        if j["conditions"]["disk_low"]["active"] or j["conditions"]["recording_fault"]["active"]:
            raise TestFailure("disk_low or recording_fault before the disk is full: %r" % j)
        reconnects = j["reconnects"]

        t_full = time.monotonic()
        filler = Filler(os.path.join(rec, "filler"))
        if not filler.full.wait(10):
            raise TestFailure("the filler did not fill the tmpfs")
        j = watch.wait_json(TOPIC, lambda j: j["conditions"]["recording_fault"]["active"]
                            and not j["recording"], 10, "recording_fault on the full disk")
        print("full disk -> recording_fault after %.1f s" % (time.monotonic() - t_full))
        watch.wait_json(ALERTS + "cam1.recording_fault", lambda a: a["state"] == "unack", 5,
                        "the cam1.recording_fault alert")
        # disk_low as documented: free space below disk_min_free_mb (checked every 10 s).
        j = watch.wait_json(TOPIC, lambda j: j["conditions"]["disk_low"]["active"], 15,
                            "disk_low on the full disk")
        watch.wait_json(ALERTS + "cam1.disk_low", lambda a: a["state"] == "unack", 5,
                        "the cam1.disk_low alert")
        segments = j["segments"]
        # The recorder is retried and fails again (a debug line only): no segment closes.
        wait_until(lambda: "recording failed again" in gw.proc.stderr_text(), 15,
                   "a retry of the recorder to fail")
        j = watch.json(TOPIC)
        if j["recording"] or not j["conditions"]["recording_fault"]["active"] or \
                j["segments"] != segments:
            raise TestFailure("recording claimed on a full disk: %r" % j)

        t_free = time.monotonic()
        filler.stop()
        j = watch.wait_json(TOPIC, lambda j: j["recording"] and j["segments"] > segments and
                            not j["conditions"]["recording_fault"]["active"], 15,
                            "recording to resume and the fault to clear")
        print("space back -> recording again after %.1f s" % (time.monotonic() - t_free))
        watch.wait_json(ALERTS + "cam1.recording_fault", lambda a: a["state"] == "rtn_unack", 5,
                        "the cam1.recording_fault alert cleared")
        watch.wait_json(TOPIC, lambda j: not j["conditions"]["disk_low"]["active"], 15,
                        "disk_low to clear")

        # Only recording stopped: the camera stayed online and was never reconnected.
        seen = states_since(watch, t_full)
        bad = [s for _, s in seen if not s["online"] or s["reconnects"] != reconnects or
               s["conditions"]["offline"]["active"] or s["conditions"]["video_loss"]["active"]]
        if bad:
            raise TestFailure("the camera went offline, lost video or reconnected for a "
                              "recording fault: %r" % bad[0])
        print("%d state messages while the disk was full and after: online, no reconnect, "
              "fps %.1f..%.1f" % (len(seen), min(s["fps"] for _, s in seen),
                                  max(s["fps"] for _, s in seen)))
        rc = gw.stop()
        log = gw.proc.stderr_text()
        if rc != 0:
            raise TestFailure("the gateway exited %s:\n%s" % (rc, log[-3000:]))
        for what in ("recording failed:", "recording again"):
            if log.count(what) != 1:
                raise TestFailure("%r logged %d times, once wanted:\n%s"
                                  % (what, log.count(what), log[-3000:]))
        db = sqlite3.connect(os.path.join(state, "hallwatch.db"))
        rows = db.execute("SELECT path, end_ms, start_ms FROM video_segments WHERE camera='cam1'"
                          ).fetchall()
        db.close()
        # A branch attached to the running pipeline still stamps its segments with wall time.
        late = [r for r in rows if not t_wall * 1000 - 5000 < r[2] < time.time() * 1000]
        if late:
            raise TestFailure("segments stamped outside the test's run: %r" % late)
        open_rows = [r[0] for r in rows if r[1] is None]
        files = {os.path.join(rec, f) for f in os.listdir(rec)}
        if open_rows or files != {r[0] for r in rows}:
            raise TestFailure("index and disk differ after the stop: open %r, not indexed %r, "
                              "missing %r" % (open_rows, files - {r[0] for r in rows},
                                              {r[0] for r in rows} - files))
        print("after the stop: %d segments on disk, all closed in the index" % len(files))
        watch.close()
    finally:
        if filler:
            filler.stop()
        if gw:
            gw.stop()
        if subprocess.run(["umount", rec]).returncode != 0:
            subprocess.run(["umount", "-l", rec])


if __name__ == "__main__":
    run(main)
