#!/usr/bin/env python3
"""Video benchmark: CPU share and RSS of recording plus analysis for 1, 4 and 8 cameras, for
hallwatch and for an ffmpeg command doing the same job the way ffmpeg-based recorders do
(stream copy to segments plus a decoded 1 fps output for analysis).

The stream: 1080p 25 fps H.264 (GOP 1 s: one IDR frame, 24 P-frames) encoded once into a file,
served by hw-testcam --file without re-encoding (one mount per camera), so the encoder does not
distort the figure.
ffmpeg is installed from apt by this script if missing (never by scripts/install-deps.sh).

Run from the source folder: /usr/bin/python3 bench/video_bench.py [SECONDS] [BUILD]
(SECONDS measured per run after a warm-up, default 30; BUILD default ./build)."""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
if len(sys.argv) > 2:
    os.environ["HW_BUILD"] = os.path.abspath(sys.argv[2])
from harness import Env, Gateway, Proc, gateway_config, wait_until  # noqa: E402
from videocam import TestCam, camera_cfg  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_S = 8


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def rss_mb(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE / 1048576


def measure(pids, seconds):
    """CPU share (% of one core) summed over pids during seconds, and their summed RSS at the end."""
    c0 = sum(cpu_seconds(p) for p in pids)
    t0 = time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        time.sleep(min(1.0, deadline - time.monotonic()))
    c1 = sum(cpu_seconds(p) for p in pids)
    return 100.0 * (c1 - c0) / (time.monotonic() - t0), sum(rss_mb(p) for p in pids)


def encode(path):
    # scenecut=0: without it x264 takes every frame of the moving bars for a scene cut and
    # encodes them all as I-frames (every other one an IDR); a camera sends a fixed GOP.
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=250", "pattern=smpte",
                    "horizontal-speed=8",
                    "!", "video/x-raw,width=1920,height=1080,framerate=25/1,format=I420",
                    "!", "x264enc", "speed-preset=veryfast", "pass=cbr", "bitrate=4000",
                    "key-int-max=25", "bframes=0", "option-string=scenecut=0",
                    "!", "video/x-h264,profile=main",
                    "!", "h264parse", "!", "mp4mux", "!", "filesink", "location=" + path],
                   check=True)


def ensure_ffmpeg():
    if shutil.which("ffmpeg"):
        return True
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "ffmpeg"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0 and shutil.which("ffmpeg") is not None


def run_hallwatch(env, cam, n, seconds):
    state = os.path.join(env.tmp, "hw-%d" % n)
    cams = [{"id": "cam%d" % i, "url": cam.url("/cam%d" % i), "expected_fps": 25,
             "segment_s": 60, "analysis_interval_ms": 1000, "disk_min_free_mb": 0}
            for i in range(1, n + 1)]
    gw = Gateway(env, gateway_config("bench", state_dir=state) + camera_cfg(cams),
                 name="hallwatch-%d" % n, log_level="warn")
    db = os.path.join(state, "hallwatch.db")
    wait_until(lambda: os.path.exists(db), 20, "the index")
    time.sleep(WARMUP_S)  # warm-up before measuring, not synchronisation
    cpu, rss = measure([gw.proc.pid], seconds)
    gw.stop()
    return cpu, rss


def run_ffmpeg(env, cam, n, seconds):
    procs = []
    for i in range(1, n + 1):
        out = os.path.join(env.tmp, "ff-%d-%d" % (n, i))
        os.makedirs(out, exist_ok=True)
        argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                "-i", cam.url("/cam%d" % i),
                "-map", "0:v", "-c", "copy", "-f", "segment", "-segment_time", "60",
                "-segment_format", "mp4", "-reset_timestamps", "1", "-strftime", "1",
                os.path.join(out, "%Y%m%d%H%M%S.mp4"),
                "-map", "0:v", "-vf", "fps=1,scale=160:90", "-pix_fmt", "gray",
                "-f", "rawvideo", "-y", "/dev/null"]
        procs.append(env.add(Proc("ffmpeg-%d-%d" % (n, i), argv, env.tmp)))
    time.sleep(WARMUP_S)  # warm-up before measuring, not synchronisation
    for p in procs:
        if not p.alive():
            raise SystemExit("ffmpeg exited: " + p.stderr_text()[-1000:])
    cpu, rss = measure([p.pid for p in procs], seconds)
    for p in procs:
        p.stop()
    return cpu, rss


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    have_ffmpeg = ensure_ffmpeg()
    with Env("video-bench") as env:
        src = os.path.join(env.tmp, "1080p25.mp4")
        encode(src)
        cam = TestCam(env, ["/cam%d" % i for i in range(1, 9)], extra=["--file", src])
        rows = []
        for n in (1, 4, 8):
            hw = run_hallwatch(env, cam, n, seconds)
            ff = run_ffmpeg(env, cam, n, seconds) if have_ffmpeg else None
            rows.append((n, hw, ff))
            print("%d camera(s): hallwatch %.1f %% CPU, %.0f MB RSS; ffmpeg %s" %
                  (n, hw[0], hw[1], "%.1f %% CPU, %.0f MB RSS" % ff if ff else "not installed"),
                  flush=True)
        print("\n| cameras | hallwatch CPU (% of a core) | per camera | hallwatch RSS | "
              "ffmpeg CPU | per camera | ffmpeg RSS (sum) |")
        print("|---|---|---|---|---|---|---|")
        for n, hw, ff in rows:
            print("| %d | %.1f %% | %.2f %% | %.0f MB | %s | %s | %s |" % (
                n, hw[0], hw[0] / n, hw[1],
                "%.1f %%" % ff[0] if ff else "-", "%.2f %%" % (ff[0] / n) if ff else "-",
                "%.0f MB" % ff[1] if ff else "-"))
        if len(rows) == 3:
            print("\nhallwatch RSS per added camera: %.1f MB (1 -> 8 cameras)" %
                  ((rows[2][1][1] - rows[0][1][1]) / 7))


if __name__ == "__main__":
    main()
