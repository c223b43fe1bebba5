"""The county mode against 20 emulated halls on a real mosquitto: it builds the picture from
the retained topics, puts a fire alarm in its feed, notices a hall killed without a goodbye
(its Last Will) and a hall that stays connected but goes silent, and after its own restart
rebuilds the picture from retained state and resumes its persistent session (an alarm raised
while it was down arrives). The day rows it stored give the month's ranking as CSV."""

import csv
import io
import os

from county_util import County, Emulator, county_config, month_now
from harness import Mosquitto, run

HALLS = 20


def main(env):
    mq = Mosquitto(env)
    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    cfg = county_config(os.path.join(env.tmp, "county.cfg"), mq.port, state, pic,
                        halls_expected=HALLS, heartbeat_s=1, grace=3.0)
    emu = Emulator(env, mq.port, HALLS, extra=["--heartbeat", "1", "--inspections"])
    county = County(env, cfg, pic)

    p = county.wait_picture(lambda p: p["summary"]["online"] == HALLS, 20,
                            "every hall online in the picture")
    h = county.hall("hall-0001")
    assert h["devices"] == {"total": 2, "online": 2}, h
    assert h["cameras"]["total"] == 1 and h["cameras"]["online"] == 1, h
    assert h["footage"]["ok"] is True, h
    assert h["inspections"]["plans"] == 1, h
    assert county.hall("hall-0011")["inspections"]["overdue"] == 1, county.hall("hall-0011")
    # open tickets come from the retained `tickets`, not only from events seen
    assert county.hall("hall-0001")["tickets"] == {"open": 1, "overdue": 1}, county.hall("hall-0001")
    assert county.hall("hall-0002")["tickets"] == {"open": 0, "overdue": 0}, county.hall("hall-0002")
    assert county.feed(lambda j: j["type"] == "rebuilt")[0]["halls"] == HALLS

    # A fire alarm appears in the feed and in the picture.
    sent = emu.cmd("fire hall-0005")
    item = county.wait_feed(lambda j: j["type"] == "fire" and j["site"] == "hall-0005", 10,
                            "the fire alarm of hall-0005 in the feed")
    assert item["seq"] == sent["seq"] and item["t_pub_us"] == sent["t_pub_us"], item
    county.wait_hall("hall-0005", lambda h: h["fire"] and h["worst"] == "fire"
                     and h["alerts"]["by_priority"]["1"] == 1, 5, "hall-0005 on fire")

    # A hall killed without DISCONNECT: the broker's Last Will marks it offline.
    emu.cmd("kill hall-0007")
    county.wait_feed(lambda j: j["type"] == "offline" and j["site"] == "hall-0007", 10,
                     "hall-0007 offline through its Last Will")
    county.wait_hall("hall-0007", lambda h: h["status"] == "offline", 5, "hall-0007 offline")

    # A hall that stays connected but publishes nothing: silent after heartbeat x grace.
    emu.cmd("silent hall-0009")
    county.wait_feed(lambda j: j["type"] == "silent" and j["site"] == "hall-0009", 15,
                     "hall-0009 noticed silent")
    h = county.wait_hall("hall-0009", lambda h: h["status"] == "silent", 5, "hall-0009 silent")
    assert h["worst"] == "silent", h
    # The other halls are not silent (their heartbeats keep coming).
    assert county.hall("hall-0008")["status"] == "online", county.hall("hall-0008")

    # Restart: an alarm raised while the county is down arrives through its session.
    county.stop()
    os.unlink(pic)
    down = emu.cmd("fire hall-0011")
    county.start()
    county.wait_feed(lambda j: j["type"] == "rebuilt" and j["halls"] == HALLS, 20,
                     "the picture rebuilt after the restart")
    item = county.wait_feed(lambda j: j["type"] == "fire" and j["site"] == "hall-0011"
                            and j.get("seq") == down["seq"], 10,
                            "the alarm raised while the county was down")
    county.wait_picture(lambda p: p["summary"]["halls"] == HALLS, 10, "the picture file again")
    assert county.wait_hall("hall-0005", lambda h: h["fire"], 5, "hall-0005 still on fire")
    assert county.wait_hall("hall-0007", lambda h: h["status"] == "offline", 5, "hall-0007 offline")
    # the open ticket of hall-0006 is back, though no ticket event came since the restart
    assert county.wait_hall("hall-0006", lambda h: h["tickets"] == {"open": 1, "overdue": 1}, 5,
                            "hall-0006's open ticket after the restart")
    # The restart's retained statuses are the picture, not news: no "online" flood.
    assert not county.feed(lambda j: j["type"] == "online"), county.feed(lambda j: j["type"] == "online")
    county.stop()

    # The month's ranking from the stored days.
    rows = list(csv.DictReader(io.StringIO(county.report(month_now()))))
    assert len(rows) == HALLS, rows
    by = {r["site"]: r for r in rows}
    assert int(by["hall-0005"]["fire_alarms"]) == 1, by["hall-0005"]
    assert int(by["hall-0011"]["fire_alarms"]) == 1, by["hall-0011"]
    assert float(by["hall-0001"]["online_rate"]) > float(by["hall-0007"]["online_rate"]), \
        (by["hall-0001"], by["hall-0007"])
    assert [int(r["rank"]) for r in rows] == list(range(1, HALLS + 1))
    assert float(rows[0]["score"]) >= float(rows[-1]["score"])
    emu.stop()


if __name__ == "__main__":
    run(main)
