#!/usr/bin/env python3
"""The console in a real browser (tests/browser/console.mjs in headless Chromium): this
driver starts the broker, the simulator and the gateway with the console, runs the script,
raises the fire alarm in the simulator when it asks and tells it when (Unix ms), and fails
unless it ends with "RESULT ok". Screenshots land in HW_ART (default
<build>/browser-artifacts)."""

import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import BUILD, TestFailure, run  # noqa: E402
from web_util import FIRE_ID, PASSWORDS, ROOT, Bench  # noqa: E402

NODE = "/usr/bin/node"


def main(env):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise TestFailure("playwright-core is not installed in tests/browser: run "
                          "scripts/install-deps.sh (npm ci)")
    art = os.path.abspath(os.environ.get("HW_ART") or os.path.join(BUILD, "browser-artifacts"))
    b = Bench(env)
    p = subprocess.Popen([NODE, os.path.join(HERE, "console.mjs")], cwd=HERE,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True,
                         env=dict(os.environ, HW_URL=b.url(), HW_ART=art, HW_USER="olga",
                                  HW_PASSWORD=PASSWORDS["olga"]))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout] + [lines.put(None)],
                     daemon=True).start()
    result = None
    deadline = time.monotonic() + 120
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
            if line == "READY_FOR_FIRE":
                t = int(time.time() * 1000)
                b.fire()
                p.stdin.write("FIRED %d\n" % t)
                p.stdin.flush()
                b.watch.wait_json(ROOT + "alert/" + FIRE_ID, lambda j: j["state"] == "unack", 5,
                                  "the alert over MQTT")
                print("the gateway published the alert over MQTT %d ms after the flip"
                      % (int(time.time() * 1000) - t))
            elif line.startswith("RESULT"):
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
