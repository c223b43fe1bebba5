#!/usr/bin/env python3
"""The county page in a real browser (tests/browser/county.mjs in headless Chromium): this
driver starts a broker, ten emulated halls that answer cmd/patrol and the county with its page,
runs the script, raises a fire alarm in one hall when it asks and tells it when (the emulator's
publish, Unix ms), and fails unless it ends with "RESULT ok". Screenshots land in HW_ART
(default <build>/browser-artifacts)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from browser_util import artifacts, run_script  # noqa: E402
from harness import Mosquitto, free_port, port_open, run, wait_until  # noqa: E402
from county_util import County, Emulator, county_config  # noqa: E402
from web_util import hash_password  # noqa: E402

HALLS = 10
FIRE_SITE = "hall-0004"


def main(env):
    art = artifacts()
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
    run_script("county.mjs",
               dict(HW_URL="http://127.0.0.1:%d" % port, HW_ART=art, HW_USER="olga",
                    HW_PASSWORD="operator-pw-2", HW_HALLS=str(HALLS), HW_FIRE_SITE=FIRE_SITE),
               lambda: emu.cmd("fire " + FIRE_SITE)["t_pub_us"] // 1000)
    county.stop()


if __name__ == "__main__":
    run(main)
