#!/usr/bin/env python3
"""The console's Devices, Cameras and Patrols pages in a real browser
(tests/browser/pages.mjs in headless Chromium): this driver starts the broker, the
simulator, a test camera (recorded in 3 s segments), an inspection plan with a task due now
and the gateway with the console, runs the script as the admin (clips are an operator's, reviews an inspector's), and fails unless it
ends with "RESULT ok". Steps whose verbs are not on this gateway print "SKIP!!!" with the
reason. Screenshots land in HW_ART (default <build>/browser-artifacts)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from browser_util import artifacts, run_script  # noqa: E402
from harness import run  # noqa: E402
from videocam import FAST, TestCam, camera_cfg  # noqa: E402
from web_util import PASSWORDS, ROOT, Bench  # noqa: E402

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
    art = artifacts()
    cam = TestCam(env, ["/cam1"])
    b = Bench(env, extra_cfg=camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"))]) + PLANS)
    b.watch.wait_json(ROOT + "camera/cam1/state", lambda j: j.get("online") and j.get("recording"),
                      20, "cam1 online and recording")
    run_script("pages.mjs", dict(HW_URL=b.url(), HW_ART=art, HW_USER="adam",
                                 HW_PASSWORD=PASSWORDS["adam"]), timeout=180)


if __name__ == "__main__":
    run(main)
