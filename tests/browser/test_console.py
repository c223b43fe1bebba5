#!/usr/bin/env python3
"""The console in a real browser (tests/browser/console.mjs in headless Chromium): this
driver starts the broker, the simulator and the gateway with the console, runs the script,
raises the fire alarm in the simulator when it asks and tells it when (Unix ms), and fails
unless it ends with "RESULT ok". Screenshots land in HW_ART (default
<build>/browser-artifacts)."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from browser_util import artifacts, run_script  # noqa: E402
from harness import run  # noqa: E402
from web_util import FIRE_ID, PASSWORDS, ROOT, Bench  # noqa: E402


def main(env):
    art = artifacts()
    b = Bench(env)

    flipped = []

    def fire():
        flipped.append(int(time.time() * 1000))
        b.fire()
        return flipped[0]

    def published():
        b.watch.wait_json(ROOT + "alert/" + FIRE_ID, lambda j: j["state"] == "unack", 5,
                          "the alert over MQTT")
        print("the gateway published the alert over MQTT %d ms after the flip"
              % (int(time.time() * 1000) - flipped[0]))

    run_script("console.mjs", dict(HW_URL=b.url(), HW_ART=art, HW_USER="olga",
                                   HW_PASSWORD=PASSWORDS["olga"]), fire, published)


if __name__ == "__main__":
    run(main)
