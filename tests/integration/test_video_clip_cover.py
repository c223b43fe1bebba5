"""Clips that cover what was asked, or say what is missing, checked with independent tools:
gst-discoverer-1.0 for the duration and a separate decode (qtdemux ! h264parse ! avdec_h264)
for the frame count.

- A clip starting in the camera's first segment (whose caps the demuxer often gives without a
  framerate: the stream's first timestamps jitter) covers the whole range across the next
  segments: duration within one key-frame interval of what was asked, ~10 frames a second.
- So does a clip across a stretch where the camera sent 5 frames a second (the same stream,
  caps with another framerate or none): the demuxer's caps differ, the clip goes on.
- A range running past the recordings is refused (cmd/clip `not_recorded`; `hallwatch clip`
  exits non-zero) with a sentence naming what is recorded and what is not, and no file.
- `"partial": true` writes what exists and the reply says what is missing.
- A hole in the middle (the camera stopped, then back): refused, the sentence names the hole;
  with partial, the clip holds both sides."""

import math
import os
import sqlite3
import subprocess
import time

from alerts_util import Operator
from harness import HALLWATCH, Gateway, Mosquitto, TestFailure, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration

SITE = "hall-clipcover"
ROOT = "hallwatch/v1/%s/" % SITE
GOP_S = 1.0  # hw-testcam: key-int-max = fps
FPS = 10


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


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


def frames(path):
    """Pictures an independent decode of path yields (qtdemux, h264parse, avdec_h264)."""
    r = subprocess.run(["gst-launch-1.0", "-v", "filesrc", "location=" + path, "!", "qtdemux",
                        "!", "h264parse", "!", "avdec_h264", "!", "fakesink", "silent=false"],
                       capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0, "%s does not decode: %s" % (path, r.stderr[-500:]))
    return sum(1 for line in r.stdout.splitlines() if "(fakesink0:sink) (" in line)


def framerate(path):
    """The framerate in the caps qtdemux gives for the segment at path, or None."""
    r = subprocess.run(["gst-launch-1.0", "-v", "filesrc", "location=" + path, "!", "qtdemux",
                        "!", "fakesink"], capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        if "fakesink0.GstPad:sink: caps" in line:
            return line.split("framerate=(fraction)", 1)[1].split(",")[0] \
                if "framerate=" in line else None
    return None


def hms(t):
    return time.strftime("%H:%M:%S", time.gmtime(t))


def check_covers(path, want_s, what):
    d = discover_duration(path)
    n = frames(path)
    expect(d is not None and want_s - 0.25 <= d <= want_s + GOP_S + 0.25,
           "%s: a clip of %d s lasts %r s" % (what, want_s, d))
    # The stream's first timestamps jitter (more so on a loaded machine): a tenth of slack.
    expect(abs(n - FPS * d) <= max(3, FPS * d / 10),
           "%s: %d frames in %.2f s at %d fps" % (what, n, d, FPS))
    print("%s: asked %d s, clip %.2f s, %d frames" % (what, want_s, d, n))
    return d


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    state = os.path.join(env.tmp, "state")
    clips = os.path.join(state, "clips")
    db = os.path.join(state, "hallwatch.db")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=3)
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, state_dir=state)
                 + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    segs = wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(closed_rows(db)), 30,
                      "three closed segments")
    op = Operator(broker.port, ROOT)

    # 1. From inside the first segment to the end of the third.
    frm = int(math.ceil(segs[0][0] / 1000.0))
    to = int(math.floor(segs[2][1] / 1000.0 - 0.2))
    r = op.send("clip", {"camera": "cam1", "from": frm, "to": to}, user="alice", timeout=30)
    expect(r.get("ok") is True and os.path.isfile(r.get("path") or ""),
           "clip from the first segment refused: %r" % r)
    expect("missing" not in r, "a whole clip says something is missing: %r" % r)
    check_covers(r["path"], to - frm, "from the first segment (framerate %s)"
                 % framerate(segs[0][2]))

    # 1b. Across a stretch at 5 fps: caps with another framerate (or none) in between.
    cam.command("fps /cam1 5")
    t_fps = time.time()
    wait_until(lambda: any(s[0] > t_fps * 1000 for s in closed_rows(db)), 20,
               "a segment recorded at 5 fps")
    cam.command("normal /cam1")
    t_norm = time.time()
    after = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(
        [s for s in closed_rows(db) if s[0] > t_norm * 1000]), 20,
        "two segments at 10 fps again")
    rows = closed_rows(db)
    first = [s for s in rows if s[1] <= t_fps * 1000][-1]
    inside = [s for s in rows if first[0] <= s[0] <= after[1][0]]
    rates = [framerate(s[2]) for s in inside]
    expect(len(set(rates)) > 1, "the segments' caps do not differ: %r" % rates)
    frm1 = int(math.ceil(first[0] / 1000.0 + 0.3))
    to1 = int(math.floor(after[1][1] / 1000.0 - 0.2))
    r = op.send("clip", {"camera": "cam1", "from": frm1, "to": to1}, user="alice", timeout=30)
    expect(r.get("ok") is True and os.path.isfile(r.get("path") or "") and "missing" not in r,
           "clip across the 5 fps stretch: %r" % r)
    d = discover_duration(r["path"])
    n = frames(r["path"])
    expect(d is not None and to1 - frm1 - 0.25 <= d <= to1 - frm1 + GOP_S + 0.25,
           "across the 5 fps stretch (framerates %r): a clip of %d s lasts %r s"
           % (rates, to1 - frm1, d))
    expect(5 * d - 3 <= n <= FPS * d + 3, "across the 5 fps stretch: %d frames in %.2f s"
           % (n, d))
    print("across the 5 fps stretch (segment framerates %s): asked %d s, clip %.2f s, %d frames"
          % (rates, to1 - frm1, d, n))

    # 2. Past the recordings: refused, the sentence says what is and is not there.
    frm2 = int(math.ceil(after[1][0] / 1000.0 + 0.3))  # at 10 fps
    to2 = frm2 + 300
    before = sorted(os.listdir(clips))
    r = op.send("clip", {"camera": "cam1", "from": frm2, "to": to2}, user="alice", timeout=30)
    msg = r.get("message") or ""
    expect(r.get("ok") is False and r.get("error") == "not_recorded",
           "a clip past the recordings was not refused: %r" % r)
    expect(msg.startswith("camera cam1 has recordings for ") and " UTC only; nothing for " in msg
           and msg.split("nothing for ", 1)[1].split(";")[0].endswith("-" + hms(to2))
           and '"partial": true' in msg, "the refusal does not say what is missing: %r" % msg)
    expect(sorted(os.listdir(clips)) == before, "a refused clip left a file: %r"
           % sorted(set(os.listdir(clips)) - set(before)))
    print("past the recordings, refused: %s" % msg)

    # The same from the command line: non-zero, the sentence on stderr, no file.
    out = os.path.join(env.tmp, "past.mp4")
    p = subprocess.run([HALLWATCH, "clip", "-c", gw.cfg, "--user", "alice", "cam1", str(frm2), str(to2), out],
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode != 0 and not os.path.exists(out) and "nothing for" in p.stderr,
           "hallwatch clip past the recordings: exit %d, file %s, stderr %r"
           % (p.returncode, os.path.exists(out), p.stderr[-400:]))
    print("hallwatch clip past the recordings: exit %d" % p.returncode)
    # With --partial: what exists, exit 0, what is missing on stderr.
    p = subprocess.run([HALLWATCH, "clip", "-c", gw.cfg, "--user", "alice", "--partial", "cam1",
                        str(frm2), str(to2), out], capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0 and os.path.isfile(out) and "partial clip" in p.stderr
           and "nothing for" in p.stderr,
           "hallwatch clip --partial: exit %d, file %s, stderr %r"
           % (p.returncode, os.path.exists(out), p.stderr[-400:]))
    print("hallwatch clip --partial: exit 0, %s" % p.stderr.strip()[:160])

    # 3. partial: what exists, and what does not.
    held_to = closed_rows(db)[-1][1] / 1000.0  # closed segments only: more may close meanwhile
    r = op.send("clip", {"camera": "cam1", "from": frm2, "to": to2, "partial": True},
                user="alice", timeout=30)
    expect(r.get("ok") is True and os.path.isfile(r.get("path") or ""),
           "partial clip refused: %r" % r)
    missing = r.get("missing") or ""
    expect(missing.startswith("camera cam1 has recordings for ") and "nothing for" in missing
           and missing.endswith("-" + hms(to2)) and missing in (r.get("message") or ""),
           "the partial clip does not say what is missing: %r" % r)
    d = discover_duration(r["path"])
    n = frames(r["path"])
    expect(d is not None and held_to - frm2 - 0.5 <= d <= time.time() - frm2 + GOP_S,
           "partial clip lasts %r s, recorded %.1f s" % (d, held_to - frm2))
    expect(abs(n - FPS * d) <= 3, "partial clip: %d frames in %.2f s" % (n, d))
    print("partial: %.2f s, %d frames; %s" % (d, n, missing))

    # 4. A hole in the middle: the camera stops, then comes back.
    offline = "camera cam1: offline raised"
    n_off = gw.proc.stderr_text().count(offline)
    cam.command("stop /cam1")
    t_stop = time.time()
    wait_until(lambda: gw.proc.stderr_text().count(offline) > n_off,
               c["offline_after_s"] + 5, "the camera seen offline")
    cam.command("start /cam1")
    t_start = time.time()
    after = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(
        [s for s in closed_rows(db) if s[0] > t_start * 1000]), 40,
        "two closed segments after the camera came back")
    rows = closed_rows(db)
    before_stop = [s for s in rows if s[1] <= t_stop * 1000 + 1000]
    frm3 = int(math.ceil(before_stop[-2][0] / 1000.0 + 0.3))  # a whole segment before
    to3 = int(math.floor(after[1][1] / 1000.0 - 0.2))
    r = op.send("clip", {"camera": "cam1", "from": frm3, "to": to3}, user="alice", timeout=30)
    msg = r.get("message") or ""
    expect(r.get("ok") is False and r.get("error") == "not_recorded"
           and " and " in msg.split(" UTC only")[0] and "nothing for" in msg,
           "a clip across a hole (stopped at %.3f, started at %.3f) was not refused with the "
           "hole named: %r; segments %r" % (t_stop, t_start, r, [s[:2] for s in rows]))
    print("across the hole, refused: %s" % msg)
    r = op.send("clip", {"camera": "cam1", "from": frm3, "to": to3, "partial": True},
                user="alice", timeout=30)
    expect(r.get("ok") is True and r.get("missing"), "partial across the hole: %r" % r)
    d = discover_duration(r["path"])
    n = frames(r["path"])
    # The clip keeps the wall-clock timeline (the hole is a stretch without pictures), starts at
    # the key frame before frm3: so its pictures are those of its duration less the hole.
    span = [s for s in rows if s[1] > frm3 * 1000 and s[0] < to3 * 1000]
    hole = sum(max(0, b[0] - a[1]) for a, b in zip(span, span[1:]) if b[0] - a[1] > 500) / 1000.0
    expect(hole >= 1.0, "no hole of a second or more among the segments %r" % [s[:2] for s in span])
    expect(d is not None and d >= (to3 - frm3) - GOP_S and abs(n - FPS * (d - hole)) <= 5,
           "partial across the hole: %r s, %d frames for %d s asked, %.1f s of them a hole"
           % (d, n, to3 - frm3, hole))
    print("partial across the hole: %.2f s with %d frames (hole %.1f s); %s"
          % (d, n, hole, r["missing"]))
    op.close()
    expect(gw.stop() == 0, "the gateway did not exit cleanly")


if __name__ == "__main__":
    run(main)
