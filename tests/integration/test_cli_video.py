"""The command line's video verbs through the daemon: `hallwatch snapshot` returns the picture
the daemon takes (a JPEG of the camera's size that decodes, with the test camera's texture:
not a flat grey frame), copied to OUT when given and named when not, and refused with its
reason for an unknown camera; `hallwatch recordings` lists the segments and the gap left while
the camera's stream was stopped; `hallwatch clip` copies the clip the daemon cut."""

import os
import re
import subprocess
import time

from harness import HALLWATCH, Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration, jpeg_size

SITE = "hall-clivid"
ROOT = "hallwatch/v1/%s/" % SITE
TOPIC = ROOT + "camera/cam1/state"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def luma_stats(path, w, h):
    """(mean, standard deviation) of the luma of the JPEG at path, decoded by GStreamer's
    jpegdec (not by hallwatch)."""
    raw = path + ".gray"
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", "location=" + path, "!", "jpegdec", "!",
                    "videoconvert", "!", "video/x-raw,format=GRAY8", "!", "filesink",
                    "location=" + raw], check=True, timeout=30, capture_output=True)
    with open(raw, "rb") as f:
        d = f.read()
    expect(len(d) == w * h, "decoded %d bytes, want %d" % (len(d), w * h))
    mean = sum(d) / len(d)
    var = sum((x - mean) ** 2 for x in d[::7]) / len(d[::7])
    return mean, var ** 0.5


def spans(out):
    """The listing's lines as ("seg"|"open"|"gap", start text, end text, seconds)."""
    res = []
    for line in out.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d)\s+"
                     r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d)\s+(\d+):(\d\d):(\d\d)\s+(.*)", line)
        if m:
            kind = ("gap" if "gap" in m.group(6) else
                    "open" if "being written" in m.group(6) else "seg")
            secs = int(m.group(3)) * 3600 + int(m.group(4)) * 60 + int(m.group(5))
            res.append((kind, m.group(1), m.group(2), secs))
    return res


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"))
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
                 + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(TOPIC, lambda j: j.get("online") and j.get("width") == 320, 20,
                    "cam1 online at 320x180")
    t_start = int(time.time())

    def cli(*args):
        p = subprocess.run([HALLWATCH, args[0], "-c", gw.cfg] + list(args[1:]),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    out_jpg = os.path.join(env.tmp, "out.jpg")
    rc, out, err = cli("snapshot", "cam1", out_jpg, "--user", "alice")
    expect(rc == 0 and "copied from %s/snapshots/" % state in out, "snapshot: %r %r" % (out, err))
    expect(jpeg_size(out_jpg) == (320, 180), "snapshot is %dx%d" % jpeg_size(out_jpg))
    mean, sd = luma_stats(out_jpg, 320, 180)
    expect(sd > 20, "the snapshot is flat (luma mean %.1f, deviation %.1f)" % (mean, sd))
    rc, out, err = cli("snapshot", "cam1", "--user", "alice")
    m = re.match(r"snapshot of cam1: (\S+)$", out.strip())
    expect(rc == 0 and m and m.group(1).startswith(state + "/snapshots/") and
           os.path.isfile(m.group(1)), "snapshot without OUT: %r %r" % (out, err))
    # Another user than the gateway's: the gateway's file is not theirs to read; said so.
    pub = os.path.join(env.tmp, "pub")
    os.makedirs(pub)
    os.chmod(pub, 0o777)
    os.chmod(env.tmp, 0o755)
    with open(gw.cfg) as f, open(os.path.join(pub, "gw.cfg"), "w") as g:
        g.write(f.read())
    os.chmod(os.path.join(pub, "gw.cfg"), 0o644)
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HALLWATCH,
                        "snapshot", "-c", os.path.join(pub, "gw.cfg"), "cam1",
                        os.path.join(pub, "o.jpg"), "--user", "alice"],
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode == 1 and ("the gateway wrote the snapshot to %s/snapshots/" % state) in p.stderr
           and "but this user cannot read it (Permission denied)" in p.stderr
           and not os.path.exists(os.path.join(pub, "o.jpg")),
           "another user's snapshot: %r %r" % (p.stdout, p.stderr))
    rc, out, err = cli("snapshot", "cam9", out_jpg, "--user", "alice")
    expect(rc == 1 and 'snapshot refused: unknown_camera: no camera "cam9"' in err,
           "unknown camera: %r %r" % (out, err))
    rc, out, err = cli("snapshot", "cam1", out_jpg, "--user", "mallory")
    expect(rc == 1 and "not_authorized" in err and "mallory" in err, "mallory: %r" % err)

    # Two closed segments, then the stream stops for a while, then it comes back.
    def listing(*extra):
        rc, out, err = cli("recordings", "cam1", "--from", str(t_start - 60), *extra)
        expect(rc == 0, "recordings: %r %r" % (out, err))
        return spans(out)
    wait_until(lambda: sum(1 for s in listing() if s[0] == "seg") >= 2, 20,
               "two closed segments listed", interval=0.5)
    cam.command("stop /cam1")
    watch.wait_json(TOPIC, lambda j: not j.get("online"), 15, "cam1 offline")
    t_off = time.monotonic()
    wait_until(lambda: time.monotonic() - t_off > 3, 10, "3 s without a stream")
    cam.command("start /cam1")
    watch.wait_json(TOPIC, lambda j: j.get("online"), 20, "cam1 back online")

    def seg_gap_seg():
        kinds = ",".join(s[0] for s in listing())
        return "seg,gap,seg" in kinds or "seg,gap,open" in kinds
    wait_until(seg_gap_seg, 20, "a segment after the gap", interval=0.5)
    rc, out, err = cli("recordings", "cam1", "--from", str(t_start - 60))
    kinds = [s[0] for s in spans(out)]
    while kinds and kinds[0] == "gap":
        kinds.pop(0)
    while kinds and kinds[-1] == "gap":
        kinds.pop()
    expect(kinds.count("gap") == 1, "not exactly one gap between segments: %r\n%s" % (kinds, out))
    expect(re.search(r"\d+ segment\(s\), \d+ s recorded, \d+ gap\(s\)", out), "summary: %r" % out)
    expect(state + "/video/cam1/" in out, "segment files not listed: %r" % out)
    listed = out
    rc, out, err = cli("recordings", "cam9")
    expect(rc == 1 and 'unknown_camera: no camera "cam9"' in err, "recordings cam9: %r" % err)

    # A clip through the daemon, copied.
    # the longest closed segment (3 s; the first may be shorter, as may the one the stop cut)
    first = max((x for x in spans(listed) if x[0] == "seg"), key=lambda x: x[3])
    out_mp4 = os.path.join(env.tmp, "out.mp4")
    frm = first[1].replace(" ", "T")
    to = first[2].replace(" ", "T")
    rc, out, err = cli("clip", "cam1", frm, to, out_mp4, "--user", "alice")
    expect(rc == 0 and "copied from %s/clips/" % state in out, "clip: %r %r" % (out, err))
    d = discover_duration(out_mp4)
    expect(d is not None and d >= first[3] - 1,
           "the clip of a %d s segment lasts %r s" % (first[3], d))
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
