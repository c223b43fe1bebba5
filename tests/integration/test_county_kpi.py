"""The county's KPIs as line protocol in a real InfluxDB: a `county_hall` line per hall (its
status, fire now, availability today) and a `county` summary line every kpi_s, through the
gateway's own writer (outputs/influx, outputs/lineproto)."""

import os

from county_util import County, Emulator, county_config
from harness import Influxd, Mosquitto, run, wait_until

HALLS = 3


def main(env):
    mq = Mosquitto(env)
    ix = Influxd(env, db="county")
    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    cfg = county_config(os.path.join(env.tmp, "county.cfg"), mq.port, state, pic,
                        halls_expected=HALLS,
                        extra='  kpi_s = 1;\n  influx = { url = "%s"; database = "county"; };\n' % ix.url)
    emu = Emulator(env, mq.port, HALLS)
    county = County(env, cfg, pic)
    county.wait_picture(lambda p: p["summary"]["online"] == HALLS, 20, "the halls online")
    emu.cmd("fire hall-0002")
    county.wait_feed(lambda j: j["type"] == "fire", 10, "the fire alarm")

    def hall_rows():
        rows = ix.rows("SELECT last(fire) AS fire, last(online) AS online, last(status) AS status, "
                       "last(device_availability) AS dev FROM county_hall GROUP BY site")
        by = {r["site"]: r for r in rows}
        return by if len(by) == HALLS and by["hall-0002"]["fire"] else None
    by = wait_until(hall_rows, 20, "a county_hall line per hall, hall-0002 on fire")
    assert by["hall-0001"]["fire"] is False and by["hall-0001"]["online"] is True, by
    assert by["hall-0001"]["status"] == "online" and by["hall-0001"]["dev"] == 1.0, by
    rows = wait_until(lambda: ix.rows("SELECT last(halls) AS halls, last(halls_fire) AS fire, "
                                      "last(events) AS events FROM county"), 10, "the county line")
    assert rows[0]["halls"] == HALLS and rows[0]["fire"] == 1 and rows[0]["events"] == 1, rows
    county.stop()
    emu.stop()


if __name__ == "__main__":
    run(main)
