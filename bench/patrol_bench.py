"""The cost of a video patrol of N cameras (default 8): N test camera streams (one hw-testcam,
320x180 at 10 fps, H.264 over RTSP, each recorded in segments of segment_s), a video_patrol
plan over every camera run through cmd/patrol ROUNDS times. For each patrol: its wall time
(record started -> finished: the key frames, the clips' +5 s and their segments closing) and
the gateway's CPU time during it (utime + stime of the process from /proc), beside the CPU the
gateway spends over an equal time without a patrol (recording and analysing the streams).

    HW_SRC=$PWD HW_BUILD=$PWD/build /usr/bin/python3 bench/patrol_bench.py [N] [ROUNDS] [SEGMENT_S]
"""

import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from alerts_util import Operator  # noqa: E402
from harness import Env, Gateway, Mosquitto, Watch, gateway_config, wait_until  # noqa: E402
from videocam import FAST, TestCam, camera_cfg  # noqa: E402

SITE = "hall-bench"
ROOT = "hallwatch/v1/%s/" % SITE
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


def record(tmp, task):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(tmp, "hallwatch.db"), uri=True,
                         timeout=5)
    try:
        r = db.execute("SELECT json FROM insp_record WHERE task = ?", (task,)).fetchall()
    finally:
        db.close()
    return json.loads(r[0][0])["details"] if r else None


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seg = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with Env("patrol-bench") as env:
        broker = Mosquitto(env)
        mounts = ["/cam%d" % i for i in range(1, n + 1)]
        cam = TestCam(env, mounts)
        watch = Watch(broker.port)
        cams = [dict(FAST, id="cam%d" % i, url=cam.url("/cam%d" % i), segment_s=seg)
                for i in range(1, n + 1)]
        gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, state_dir=env.tmp,
                                         heartbeat=1) + camera_cfg(cams) + """
alerts = { operators = [ "bench" ]; };
inspections = { tick_s = 1; plans = (
  { id = "vp"; kind = "video_patrol"; recurrence = "every"; every_s = 86400; when = "any"; }
); };
""", log_level="warn")
        for i in range(1, n + 1):
            watch.wait_json(ROOT + "camera/cam%d/state" % i,
                            lambda j: j["online"] and j["recording"] and j["segments"] >= 1,
                            60, "cam%d recording" % i)
        op = Operator(broker.port, ROOT)
        pid = gw.proc.pid
        walls, cpus, idles, passed = [], [], [], 0
        for _ in range(rounds):
            # the gateway's own rate without a patrol, over a few seconds
            c0, t0 = cpu_s(pid), time.monotonic()
            wait_until(lambda: time.monotonic() - t0 >= 5, 10, "an idle window")
            idle_rate = (cpu_s(pid) - c0) / (time.monotonic() - t0)
            c0 = cpu_s(pid)
            r = op.send("patrol", {"plan": "vp"}, user="bench")
            rec = wait_until(lambda: record(env.tmp, r["task"]), 120, "the patrol's record")
            c1 = cpu_s(pid)
            wall = (rec["finished"] - rec["started"]) / 1000.0
            walls.append(wall)
            cpus.append(c1 - c0)
            idles.append(idle_rate * wall)
            passed += rec["passed"] is True
        print("patrol of %d cameras (320x180, 10 fps, segment_s %d), %d rounds, %d passed"
              % (n, seg, rounds, passed))
        print("wall time   s: %s (mean %.2f)" % (" ".join("%.2f" % w for w in walls),
                                                sum(walls) / rounds))
        print("gateway CPU s during the patrol: %s (mean %.2f)"
              % (" ".join("%.2f" % c for c in cpus), sum(cpus) / rounds))
        print("gateway CPU s without a patrol over the same time: %s (mean %.2f)"
              % (" ".join("%.2f" % c for c in idles), sum(idles) / rounds))
        print("patrol's own CPU s: mean %.2f" % ((sum(cpus) - sum(idles)) / rounds))
        gw.stop()
        watch.close()


if __name__ == "__main__":
    main()
