"""Runs one of the browser scripts (*.mjs, playwright-core in headless Chromium) for the
Python drivers: prints its lines as "browser: ...", answers the line READY_FOR_FIRE with
on_fire() (which raises the alarm and returns the Unix ms to tell the script as "FIRED T"),
then calls after_fire() (checks that must not delay the script),
and fails unless the script ends with "RESULT ok"."""

import os
import queue
import subprocess
import threading
import time

from harness import BUILD, TestFailure

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = "/usr/bin/node"


def artifacts():
    """Where the screenshots go: HW_ART, else <build>/browser-artifacts."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise TestFailure("playwright-core is not installed in tests/browser: run "
                          "scripts/install-deps.sh (npm ci)")
    return os.path.abspath(os.environ.get("HW_ART") or os.path.join(BUILD, "browser-artifacts"))


def run_script(script, env, on_fire=None, after_fire=None, timeout=120):
    p = subprocess.Popen([NODE, os.path.join(HERE, script)], cwd=HERE, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, **env))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout] + [lines.put(None)],
                     daemon=True).start()
    result = None
    deadline = time.monotonic() + timeout
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
            if line == "READY_FOR_FIRE" and on_fire:
                p.stdin.write("FIRED %d\n" % on_fire())
                p.stdin.flush()
                if after_fire:
                    after_fire()
            elif line.startswith("RESULT"):
                result = line
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if result != "RESULT ok" or rc != 0:
        raise TestFailure("the browser test failed (%s, exit %s)" % (result, rc))
