#!/usr/bin/env python3
"""The console's Devices, Cameras and Patrols pages in a real browser
(tests/browser/pages.mjs in headless Chromium): this driver starts the broker, the
simulator, a test camera (recorded in 3 s segments), an inspection plan with a task due now
and the gateway with the console, runs the script as the admin (clips are an operator's, reviews an inspector's), and fails unless it
ends with "RESULT ok". Steps whose verbs are not on this gateway print "SKIP!!!" with the
reason. Screenshots land in HW_ART (default <build>/browser-artifacts)."""

import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import BUILD, TestFailure, run  # noqa: E402
from videocam import FAST, TestCam, camera_cfg  # noqa: E402
from web_util import PASSWORDS, ROOT, Bench  # noqa: E402

NODE = "/usr/bin/node"

PLANS = """
alerts = { operators = [ "olga", "ingrid" ]; };
inspections = {
  tick_s = 1;
  plans = (
    { id = "hall_round"; kind = "staff_patrol"; recurrence = "every"; every_s = 3600;
      when = "any"; early_s = 3600; window_s = 1800; grace_s = 600; }
  );
};
"""


def main(env):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise TestFailure("playwright-core is not installed in tests/browser: run "
                          "scripts/install-deps.sh (npm ci)")
    art = os.path.abspath(os.environ.get("HW_ART") or os.path.join(BUILD, "browser-artifacts"))
    cam = TestCam(env, ["/cam1"])
    b = Bench(env, extra_cfg=camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"))]) + PLANS)
    b.watch.wait_json(ROOT + "camera/cam1/state", lambda j: j.get("online") and j.get("recording"),
                      20, "cam1 online and recording")
    p = subprocess.Popen([NODE, os.path.join(HERE, "pages.mjs")], cwd=HERE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, HW_URL=b.url(), HW_ART=art, HW_USER="adam",
                                  HW_PASSWORD=PASSWORDS["adam"]))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout] + [lines.put(None)],
                     daemon=True).start()
    result = None
    deadline = time.monotonic() + 180
    try:
        while result is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TestFailure("the browser script gave no result in time")
            if line is None:
                break
            line = line.rstrip("\n")
            print("browser: " + line)
            if line.startswith("RESULT"):
                result = line
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if result != "RESULT ok" or rc != 0:
        raise TestFailure("the browser test failed (%s, exit %s)" % (result, rc))


if __name__ == "__main__":
    run(main)
