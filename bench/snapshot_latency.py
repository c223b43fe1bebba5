#!/usr/bin/env python3
"""Fire alarm latency with and without snapshots: does a snapshot hold the main loop?

100 fire panels (facp-generic, 8 zones) on one simulator (unit ids 1..100, 10 Modbus TCP
buses of 10 panels), one camera (hw-testcam serving 1080p25 H.264 from a file, recorded and
analysed as usual), mosquitto on loopback. FLIPS zone fire bits are raised one after another,
each on another panel at a random phase against the poll schedule; each is timed from the
write to the simulator to the `raised` message on `events` at a subscriber. Two phases of
FLIPS (at most 400) each: without snapshots, then with an operator requesting `cmd/snapshot` of the camera
every 200 ms (MQTT v5, each reply timed too). Throughout, a probe times the main loop
directly: a request the loop answers at once (`cmd/ack` of an alert that does not exist) every
50 ms, from publish to reply; unlike the alarm, it has no poll phase in it. Prints
p50/p99/max per phase.

    HW_BUILD=$PWD/build /usr/bin/python3 bench/snapshot_latency.py [FLIPS] [SNAPSHOT_MS] [HEIGHT]

HEIGHT: the camera's picture, 1080 (1920x1080, the default) or 2160 (3840x2160).

Not run by the test suite.
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from alerts_util import Operator  # noqa: E402
from harness import (Env, Gateway, Mosquitto, Sim, Watch, gateway_config,  # noqa: E402
                     wait_until)
from snapshot_util import reply, send_nowait  # noqa: E402
from videocam import TestCam, camera_cfg  # noqa: E402

SITE = "hall-bench"
ROOT = "hallwatch/v1/%s/" % SITE
N_DEV = 100
PER_BUS = 10


class NodelayMosquitto(Mosquitto):
    """The test broker with Nagle's algorithm off on its sockets: otherwise a reply can wait
    for a delayed ACK (40 ms on Linux), which would hide what the loop does."""

    def start(self):
        with open(self.conf, "a") as f:
            f.write("set_tcp_nodelay true\n")
        super().start()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def encode(path, height):
    """4 s of 25 fps H.264, GOP 25 without scene-cut key frames, as a camera sends it."""
    width, kbps = (3840, 12000) if height == 2160 else (1920, 4000)
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=100", "pattern=smpte",
                    "horizontal-speed=8",
                    "!", "video/x-raw,width=%d,height=%d,framerate=25/1,format=I420"
                    % (width, height),
                    "!", "x264enc", "speed-preset=veryfast", "pass=cbr", "bitrate=%d" % kbps,
                    "key-int-max=25", "bframes=0", "option-string=scenecut=0",
                    "!", "video/x-h264,profile=main",
                    "!", "h264parse", "!", "mp4mux", "!", "filesink", "location=" + path],
                   check=True)


class Requester(threading.Thread):
    """Sends cmd/<verb> every period_s and times the replies."""

    def __init__(self, op, period_s, verb, body):
        super().__init__(daemon=True)
        self.op, self.period_s, self.verb, self.body = op, period_s, verb, body
        self.stop = threading.Event()
        self.sent = []  # (monotonic time, correlation data)

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            self.sent.append((time.monotonic(),
                              send_nowait(self.op, self.verb, self.body, "bench")))
            nxt += self.period_s
            self.stop.wait(max(0.0, nxt - time.monotonic()))

    def rtts(self, ok_only=True):
        """Reply times in ms (of the ok replies, or of all)."""
        out = []
        for t, corr in self.sent:
            r = reply(self.op, corr)
            if r is not None and (r.get("ok") or not ok_only):
                out.append((r["_t"] - t) * 1000)
        return out



class TimedOperator(Operator):
    """An Operator that notes when each reply arrived (in the reply, as _t), Nagle off."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        r = json.loads(m.payload.decode())
        r["_t"] = time.monotonic()
        with self.lock:
            self.replies[bytes(corr) if corr else None] = r


def flips(sim, watch, n, zones, interval_s):
    lat = []
    for i in range(n):
        unit = 1 + (i * 37) % N_DEV
        zone = zones[(i // N_DEV) % len(zones)]
        aid = "facp%d.zone-%d.fire" % (unit, zone)
        time.sleep(random.uniform(0, interval_s))  # a random phase, not a synchronisation
        t0 = time.monotonic()
        sim.set(unit, "input", 100 + zone, 1)

        def arrived():
            with watch.lock:
                for t, tp, pl, _ in reversed(watch.msgs):
                    if t < t0:
                        break
                    if tp == ROOT + "events":
                        e = json.loads(pl.decode())
                        if e.get("id") == aid and e["event"] == "raised":
                            return t
            return None
        lat.append((wait_until(arrived, 20, "alert %s" % aid, interval=0.001) - t0) * 1000)
    return lat


def phase(sim, watch, probe_op, n, zones):
    """Flips with the loop probe running: (alarm latencies, probe reply times)."""
    probe = Requester(probe_op, 0.05, "ack", {"id": "probe.none"})
    probe.start()
    lat = flips(sim, watch, n, zones, 0.1)
    probe.stop.set()
    probe.join()
    wait_until(lambda: all(reply(probe_op, c) for _, c in probe.sent), 15, "the probe's replies")
    return lat, probe.rtts(ok_only=False)


def show(v):
    return "p50=%.1f ms p99=%.1f ms max=%.1f ms" % (pct(v, 50), pct(v, 99), max(v))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    if not 1 <= n <= 4 * N_DEV:
        raise SystemExit("FLIPS: 1 to %d (each flip raises a new alert)" % (4 * N_DEV))
    period_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    height = int(sys.argv[3]) if len(sys.argv) > 3 else 1080
    with Env("snapshot-bench") as env:
        src = os.path.join(env.tmp, "1080p25.mp4")
        encode(src, height)
        cam = TestCam(env, ["/cam1"], extra=["--file", src])
        broker = NodelayMosquitto(env)
        sim = Sim(env, facp=range(1, N_DEV + 1), elc=(), extra=["--zones", "8"])
        watch = Watch(broker.port)
        buses = [("b%d" % b, sim.port, 300) for b in range(N_DEV // PER_BUS)]
        devs = [{"id": "facp%d" % u, "bus": "b%d" % ((u - 1) // PER_BUS), "unit": u,
                 "profile": "facp-generic", "interval_ms": 100, "life_check_s": 0}
                for u in range(1, N_DEV + 1)]
        cams = [{"id": "cam1", "url": cam.url("/cam1"), "expected_fps": 25, "segment_s": 60,
                 "analysis_interval_ms": 1000, "disk_min_free_mb": 0}]
        gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, buses=buses, devices=devs,
                                         state_dir=env.tmp, heartbeat=0)
                     + camera_cfg(cams) + 'alerts = { operators = [ "bench" ]; };\n',
                     log_level="warn")
        for u in range(1, N_DEV + 1):
            watch.wait_json(ROOT + "device/facp%d/state" % u, lambda j: j["online"], 30,
                            "facp%d online" % u)
        watch.wait_json(ROOT + "camera/cam1/state",
                        lambda j: j.get("online") and j.get("height") == height, 30,
                        "cam1 online")
        op = TimedOperator(broker.port, ROOT, name="bench")
        probe_op = TimedOperator(broker.port, ROOT, name="probe")
        wait_until(lambda: op.send("snapshot", {"camera": "cam1"}, user="bench").get("ok"), 20,
                   "a first snapshot")

        quiet, quiet_probe = phase(sim, watch, probe_op, n, (0, 1, 2, 3))
        snap = Requester(op, period_ms / 1000.0, "snapshot", {"camera": "cam1"})
        snap.start()
        busy, busy_probe = phase(sim, watch, probe_op, n, (4, 5, 6, 7))
        snap.stop.set()
        snap.join()
        wait_until(lambda: all(reply(op, c) for _, c in snap.sent), 15, "every snapshot answered")
        ok = snap.rtts()
        errs = {}
        for _, c in snap.sent:
            e = reply(op, c).get("error")
            if e:
                errs[e] = errs.get(e, 0) + 1
        print("camera %dp, %d flips a phase" % (height, n))
        for name, v, pv in (("no snapshots", quiet, quiet_probe),
                            ("snapshot every %d ms" % period_ms, busy, busy_probe)):
            print("%-24s fire -> events %s | loop probe %s" % (name, show(v), show(pv)))
        print("snapshots: %d requested, %d written (reply %s), refused %r"
              % (len(snap.sent), len(ok), show(ok) if ok else "-", errs))
        op.close()
        probe_op.close()
        watch.close()
        gw.stop()


if __name__ == "__main__":
    main()
