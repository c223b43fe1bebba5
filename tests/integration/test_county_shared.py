"""Two county instances on one shared subscription ($share/county/<root>/+/events) split the
events of 40 emulated halls and count each once: the total of both equals what the emulator
sent, each got a share, and the events a hall sends twice (a resend after a reconnect, the
same seq) are counted by neither a second time, whichever instance the broker hands them to
(the instances share their state_dir, so county.db deduplicates across them)."""

import os

from county_util import County, Emulator, county_config, db_rows
from harness import Mosquitto, run, wait_until

HALLS = 40
ROUNDS = 25
DUPS = 10


def main(env):
    mq = Mosquitto(env)
    state = os.path.join(env.tmp, "county-state")
    counties = []
    for name in ("a", "b"):
        pic = os.path.join(env.tmp, "picture-%s.json" % name)
        cfg = county_config(os.path.join(env.tmp, "county-%s.cfg" % name), mq.port, state, pic,
                            halls_expected=HALLS, client_id="county-%s" % name)
        counties.append(County(env, cfg, pic, name="county-" + name))
    # Both subscribed before the halls publish (their sessions exist from then on).
    for c in counties:
        wait_until(lambda: "connected to" in c.proc.stderr_text(), 10, "%s connected" % c.name)
    emu = Emulator(env, mq.port, HALLS, extra=["--mode", "shared", "--real", "2"])
    for c in counties:
        c.wait_picture(lambda p: p["summary"]["online"] == HALLS, 20, "%s's picture" % c.name)

    sent = emu.cmd("events * %d" % ROUNDS)["total"]
    assert sent == HALLS * ROUNDS, sent
    for i in range(DUPS):
        emu.cmd("dup hall-%04d" % (i + 1))

    def totals():
        ps = [c.picture() for c in counties]
        if None in ps:
            return None
        return sum(p["events"] for p in ps), sum(p["duplicates"] for p in ps)
    try:
        wait_until(lambda: totals() == (sent, DUPS), 30,
                   "both counties to count %d events and %d duplicates" % (sent, DUPS))
    except Exception:
        print("counted (events, duplicates) at the end: %s" % (totals(),))
        raise
    per = [c.picture()["events"] for c in counties]
    assert all(n > 0 for n in per), "one instance got no share: %s" % per
    for c in counties:
        c.stop()
    rows = dict(db_rows(state, "SELECT inst, COUNT(*) FROM county_seen GROUP BY inst"))
    assert sum(rows.values()) == sent, rows
    assert rows.get("county-a", 0) > 0 and rows.get("county-b", 0) > 0, rows
    # Per hall: every seq 1..ROUNDS once.
    for site, n, lo, hi in db_rows(state, "SELECT site, COUNT(*), MIN(seq), MAX(seq) FROM "
                                   "county_seen GROUP BY site"):
        assert (n, lo, hi) == (ROUNDS, 1, ROUNDS), (site, n, lo, hi)
    # The days: each instance counted its share; together the whole.
    ev = db_rows(state, "SELECT SUM(events) FROM county_day")[0][0]
    assert ev == sent, ev
    print("shared subscription: %s of %d events, %d duplicates dropped" % (per, sent, DUPS))
    emu.stop()


if __name__ == "__main__":
    run(main)
