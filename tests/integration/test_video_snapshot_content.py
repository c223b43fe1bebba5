"""Snapshots are the picture: decoded by an independent decoder (gst-launch-1.0 jpegdec) and
compared with what the test camera shows.

hw-testcam draws a horizontal ramp (luma 50 at the left to 220 at the right) with a checker
texture of +-22 and a bright square in the upper half. Below the square, eight vertical bands
must get brighter from left to right by most of the ramp, and each band must show the texture;
a flat grey picture (what the command line's snapshot wrote before) fails both. A black camera
gives a dark picture (mean below 40), not grey (128). Checked for cmd/snapshot (through the
daemon) and for `hallwatch snapshot` (the command line)."""

import os
import subprocess

from alerts_util import Operator
from harness import (HALLWATCH, Gateway, Mosquitto, TestFailure, Watch, gateway_config, run,
                     wait_until)
from videocam import FAST, TestCam, camera_cfg, jpeg_size

SITE = "hall-snapcontent"
ROOT = "hallwatch/v1/%s/" % SITE
W, H = 320, 180


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def luma(path, tmp):
    """The JPEG at path decoded to 8-bit grey by gst-launch-1.0 (W x H bytes)."""
    expect(jpeg_size(path) == (W, H), "%s is %dx%d, not %dx%d" % ((path,) + jpeg_size(path)
                                                                    + (W, H)))
    raw = os.path.join(tmp, "decoded.gray")
    r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", "location=" + path, "!", "jpegdec",
                        "!", "videoconvert", "!", "video/x-raw,format=GRAY8", "!", "filesink",
                        "location=" + raw], capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "%s does not decode: %s" % (path, r.stderr[-400:]))
    with open(raw, "rb") as f:
        px = f.read()
    expect(len(px) == W * H, "decoded %d bytes, wanted %d" % (len(px), W * H))
    return px


def stats(px, x0, x1, y0, y1):
    v = [px[y * W + x] for y in range(y0, y1) for x in range(x0, x1)]
    m = sum(v) / len(v)
    return m, (sum((a - m) ** 2 for a in v) / len(v)) ** 0.5


def bands(px):
    """(mean, stddev) of 8 vertical bands below the moving square."""
    return [stats(px, i * W // 8, (i + 1) * W // 8, H * 6 // 10, H) for i in range(8)]


def check_scene(path, tmp, what):
    b = bands(luma(path, tmp))
    means = [round(m) for m, _ in b]
    expect(all(b[i + 1][0] > b[i][0] for i in range(7)) and b[7][0] - b[0][0] >= 100,
           "%s is not the camera's ramp: band means %r" % (what, means))
    expect(all(sd >= 10 for _, sd in b),
           "%s lacks the camera's texture: band stddevs %r" % (what, [round(s) for _, s in b]))
    print("%s: band means %r" % (what, means))


def dark(path, tmp):
    m, sd = stats(luma(path, tmp), 0, W, 0, H)
    return m, sd


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    state = os.path.join(env.tmp, "state")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"))
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, state_dir=state)
                 + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    watch = Watch(broker.port)
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j.get("online") and j.get("width") == W,
                    20, "cam1 online at %dx%d" % (W, H))
    op = Operator(broker.port, ROOT)

    def snap():
        r = op.send("snapshot", {"camera": "cam1"}, user="alice")
        if r.get("error") == "not_ready":
            return None
        expect(r.get("ok") is True and os.path.isfile(r.get("path") or ""),
               "snapshot refused: %r" % r)
        return r["path"]

    check_scene(wait_until(snap, 20, "a snapshot"), env.tmp, "cmd/snapshot")

    out = os.path.join(env.tmp, "cli.jpg")
    p = subprocess.run([HALLWATCH, "snapshot", "-c", gw.cfg, "--user", "alice", "cam1", out], capture_output=True,
                       text=True, timeout=60)
    expect(p.returncode == 0 and os.path.isfile(out),
           "hallwatch snapshot: exit %d: %s" % (p.returncode, p.stderr[-400:]))
    check_scene(out, env.tmp, "hallwatch snapshot")

    cam.command("black /cam1")
    seen = []

    def black_snap():
        m, sd = dark(snap(), env.tmp)
        seen.append(round(m))
        return (m, sd) if m < 40 else None
    m, sd = wait_until(black_snap, 10, "a dark snapshot of the black camera (means %r)" % seen,
                       interval=0.2)
    expect(sd < 10, "the black camera's snapshot is not flat: stddev %.1f" % sd)
    print("cmd/snapshot of the black camera: mean %.1f, stddev %.1f" % (m, sd))
    os.unlink(out)
    p = subprocess.run([HALLWATCH, "snapshot", "-c", gw.cfg, "--user", "alice", "cam1", out], capture_output=True,
                       text=True, timeout=60)
    expect(p.returncode == 0 and os.path.isfile(out),
           "hallwatch snapshot (black): exit %d: %s" % (p.returncode, p.stderr[-400:]))
    m, sd = dark(out, env.tmp)
    expect(m < 40, "hallwatch snapshot of the black camera is not dark: mean %.1f" % m)
    print("hallwatch snapshot of the black camera: mean %.1f, stddev %.1f" % (m, sd))
    op.close()
    watch.close()
    expect(gw.stop() == 0, "the gateway did not exit cleanly")


if __name__ == "__main__":
    run(main)
