#!/usr/bin/env python3
"""The county page in a real browser (tests/browser/county.mjs in headless Chromium): this
driver starts a broker, ten emulated halls that answer cmd/patrol and the county with its page,
runs the script, raises a fire alarm in one hall when it asks and tells it when (the emulator's
publish, Unix ms), and fails unless it ends with "RESULT ok". Screenshots land in HW_ART
(default <build>/browser-artifacts)."""

import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import BUILD, Mosquitto, TestFailure, free_port, port_open, run, wait_until  # noqa: E402
from county_util import County, Emulator, county_config  # noqa: E402
from web_util import hash_password  # noqa: E402

NODE = "/usr/bin/node"
HALLS = 10
FIRE_SITE = "hall-0004"


def main(env):
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise TestFailure("playwright-core is not installed in tests/browser: run "
                          "scripts/install-deps.sh (npm ci)")
    art = os.path.abspath(os.environ.get("HW_ART") or os.path.join(BUILD, "browser-artifacts"))
    mq = Mosquitto(env)
    port = free_port()
    http = ('  http = { enabled = true; bind = "127.0.0.1"; port = %d; users = ( '
            '{ name = "olga"; role = "operator"; password_hash = "%s"; } ); };\n'
            '  halls = ( { site = "%s"; console = "https://%s.example/"; } );\n'
            % (port, hash_password("operator-pw-2"), FIRE_SITE, FIRE_SITE))
    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    cfg = county_config(os.path.join(env.tmp, "county.cfg"), mq.port, state, pic,
                        halls_expected=HALLS, extra=http)
    emu = Emulator(env, mq.port, HALLS, extra=["--inspections", "--patrol", "ok"])
    county = County(env, cfg, pic)
    wait_until(lambda: port_open(port) or not county.proc.alive(), 20, "the county page")
    p = subprocess.Popen([NODE, os.path.join(HERE, "county.mjs")], cwd=HERE,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True,
                         env=dict(os.environ, HW_URL="http://127.0.0.1:%d" % port, HW_ART=art,
                                  HW_USER="olga", HW_PASSWORD="operator-pw-2",
                                  HW_HALLS=str(HALLS), HW_FIRE_SITE=FIRE_SITE))
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
                sent = emu.cmd("fire " + FIRE_SITE)
                p.stdin.write("FIRED %d\n" % (sent["t_pub_us"] // 1000))
                p.stdin.flush()
            elif line.startswith("RESULT"):
                result = line
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if result != "RESULT ok" or rc != 0:
        raise TestFailure("the browser test failed (%s, exit %s)" % (result, rc))
    county.stop()


if __name__ == "__main__":
    run(main)
