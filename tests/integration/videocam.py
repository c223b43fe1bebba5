"""The RTSP test camera (hw-testcam) and camera config text for the video integration tests."""

import os
import subprocess

from harness import BUILD, Proc, TestFailure, wait_until

TESTCAM = os.path.join(BUILD, "hw-testcam")

# Sanitizer builds: GLib leaks its first quark block on purpose once GStreamer has made more
# than 2048 quarks; the block comes from a library constructor, and LSan's fast unwinder stops
# at g_malloc there, so the suppression (leak:_dl_init in tests/lsan.supp) needs full stacks.
if "ASAN_OPTIONS" in os.environ or "LSAN_OPTIONS" in os.environ:
    os.environ["LSAN_OPTIONS"] = ":".join(
        x for x in (os.environ.get("LSAN_OPTIONS"), "fast_unwind_on_malloc=0") if x)


class TestCam:
    def __init__(self, env, mounts=("/cam1",), extra=()):
        argv = [TESTCAM, "--port", "0", "--width", "320", "--height", "180", "--fps", "10"]
        for m in mounts:
            argv += ["--mount", m]
        self.proc = env.add(Proc("hw-testcam", argv + list(extra), env.tmp, stdin=subprocess.PIPE))

        def ready():
            if not self.proc.alive():
                raise TestFailure("hw-testcam exited: " + self.proc.stderr_text())
            for line in self.proc.stdout_text().splitlines():
                if line.startswith("READY port="):
                    return int(line.split("=", 1)[1])
            return None
        self.port = wait_until(ready, 10, "hw-testcam READY")
        self._seen = len(self.proc.stdout_text().splitlines())

    def url(self, mount):
        return "rtsp://127.0.0.1:%d%s" % (self.port, mount)

    def command(self, cmd):
        self.proc.p.stdin.write((cmd + "\n").encode())
        self.proc.p.stdin.flush()
        n = self._seen

        def answered():
            t = self.proc.stdout_text()
            lines = t.splitlines()
            return lines[n] if len(lines) > n and t.endswith("\n") else None
        line = wait_until(answered, 5, "hw-testcam answer to " + cmd)
        self._seen = n + 1
        if line != "ok":
            raise TestFailure("hw-testcam refused %r: %s" % (cmd, line))


def camera_cfg(cams):
    """cams: list of dicts of camera settings -> a libconfig cameras section."""
    out = []
    for c in cams:
        f = []
        for k, v in c.items():
            if isinstance(v, bool):
                f.append("%s = %s;" % (k, "true" if v else "false"))
            elif isinstance(v, str):
                f.append('%s = "%s";' % (k, v))
            elif isinstance(v, (list, tuple)):
                f.append('%s = [ %s ];' % (k, ", ".join('"%s"' % x for x in v)))
            else:
                f.append("%s = %s;" % (k, v))
        out.append("{ %s }" % " ".join(f))
    return "cameras = ( %s );\n" % ",\n  ".join(out)


# Short durations so that every condition shows within seconds at 10 fps, GOP 1 s.
FAST = {"expected_fps": 10, "width": 320, "height": 180, "segment_s": 3, "offline_after_s": 2,
        "reconnect_min_ms": 200, "reconnect_max_ms": 1000, "analysis_interval_ms": 0,
        "dark_ms": 1000, "covered_ms": 1000, "frozen_ms": 2000, "defocus_ms": 2000,
        "moved_ms": 2000, "clear_ms": 1000, "cooldown_ms": 0, "video_loss_ms": 5000,
        "disk_min_free_mb": 0}


def discover(path):
    """(duration in seconds or None, description of the first video stream or None) as
    gst-discoverer-1.0 reports them for path, e.g. (3.0, "H.265 (Main Profile)")."""
    r = subprocess.run(["gst-discoverer-1.0", path], capture_output=True, text=True, timeout=30)
    duration = video = None
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("Duration:"):
            h, m, s = line.split(":", 1)[1].strip().split(":")
            d = int(h) * 3600 + int(m) * 60 + float(s)
            duration = d if d > 0 else None
        elif line.startswith("video #") and video is None:
            video = line.split(":", 1)[1].strip()
    return duration, video


def discover_duration(path):
    """Duration in seconds that gst-discoverer-1.0 reports for path, or None."""
    return discover(path)[0]


def jpeg_size(path):
    """(width, height) of the JPEG at path; fails the test if it is not a whole JPEG."""
    with open(path, "rb") as f:
        d = f.read()
    if d[:2] != b"\xff\xd8" or d[-2:] != b"\xff\xd9":
        raise TestFailure("not a JPEG: %s" % path)
    i = 2
    while i < len(d):
        marker, length = d[i + 1], int.from_bytes(d[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(d[i + 7:i + 9], "big"), int.from_bytes(d[i + 5:i + 7], "big")
        i += 2 + length
    raise TestFailure("no frame header in %s" % path)
