"""A full state disk never silences a fire alarm (docs/alerts.md, "When the store cannot
write"). The state directory is a small tmpfs; once the gateway runs, a filler file takes
every free byte. A fire in zone 3 must still reach `events` and alert/<id> at once (from
memory), the store failure must be an alert of its own (gateway.store_fault) and a `status`
field, an operator's ack must work, and line protocol must be held, not lost. When the
filler goes, the held events are written to the event log with no sequence gap, the store
alert clears and the lines written meanwhile reach InfluxDB. A SIGKILL while the disk is
full must not make the next start number its events again."""

import os
import signal
import sqlite3
import subprocess

from alerts_util import Operator, check_sequence, events
from harness import (Gateway, Influxd, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-full"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-3.fire"
SID = "gateway.store_fault"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def stored_seqs(state_dir):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state_dir, "hallwatch.db"), uri=True,
                         timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT seq FROM alert_event ORDER BY seq")]
    finally:
        db.close()


def truncate_wal(state_dir):
    """Checkpoints the database and truncates its WAL, so that the gateway's next commit
    needs new space (a WAL is otherwise overwritten in place after a checkpoint)."""
    def done():
        db = sqlite3.connect(os.path.join(state_dir, "hallwatch.db"), timeout=5)
        try:
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            db.close()
        wal = os.path.join(state_dir, "hallwatch.db-wal")
        return busy == 0 and (not os.path.exists(wal) or os.path.getsize(wal) == 0)
    wait_until(done, 10, "the WAL truncated")


def fill(path):
    """Truncates the WAL, then writes a filler file until the file system is full; returns
    its path."""
    truncate_wal(path)
    filler = os.path.join(path, "filler")
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        while True:  # the last few pages
            try:
                f.write(b"\0" * 512)
            except OSError:
                break
    return filler


def delivery(watch):
    st = watch.json(ROOT + "status")
    return st.get("delivery") if st else None


def main(env):
    state = os.path.join(env.tmp, "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", state], check=True)
    try:
        scenario(env, state)
    finally:
        # Lazy: a process of a failed run may still hold a file there.
        subprocess.run(["umount", "-l", state], check=False)


def scenario(env, state):
    broker = Mosquitto(env)
    influx = Influxd(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    watch = Watch(broker.port)
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url=influx.url, heartbeat=1,
        buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=state) + 'alerts = { operators = [ "alice" ]; };\n'
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    wait_until(lambda: (delivery(watch) or {}).get("store", {}).get("ok") is True, 10,
               "status with a writable store")
    wait_until(lambda: influx.rows("SELECT count(*) FROM gateway"), 10, "gateway lines in InfluxDB")

    filler = fill(state)
    st = os.statvfs(state)
    expect(st.f_bavail == 0, "the tmpfs still has %d free blocks" % st.f_bavail)

    # The fire goes out at once, from memory.
    sim.set(1, "input", 103, 1)
    alert = watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "unack", 5,
                            "the P1 alert while the disk is full")
    expect(alert["priority"] == 1 and alert["active"], "alert %r" % alert)
    wait_until(lambda: any(e["event"] == "raised" and e.get("id") == AID
                           for e in events(watch, ROOT)), 5, "the raised fire event")

    # The failure is an alert and a status field, and says what happened.
    wait_until(lambda: any(e["event"] == "raised" and e.get("id") == SID
                           for e in events(watch, ROOT)), 5, "the store fault alert")
    store = wait_until(lambda: (delivery(watch) or {}).get("store", {}).get("ok") is False
                       and delivery(watch)["store"], 5, "status with the store failure")
    expect(store["unstored"] >= 2 and "full" in store["error"], "store status %r" % store)
    expect(store["held"] >= store["unstored"], "store status %r" % store)

    # An operator's ack works too (its events are held like the others).
    op = Operator(broker.port, ROOT)
    r = op.send("ack", {"id": AID}, user="alice")
    expect(r["ok"] is True and r["alert"]["state"] == "acked", "ack reply %r" % r)
    watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "acked", 5, "acked alert")
    lp = wait_until(lambda: (delivery(watch) or {}).get("lineproto", {}).get("memory", 0) > 0
                    and delivery(watch)["lineproto"], 5, "line protocol held in memory")
    expect(lp["dropped"] == 0, "lines dropped while held: %r" % lp)
    held_at = max(r["time"] for r in influx.rows("SELECT beat FROM gateway"))

    # Space returns: everything held is written, in order, with no gap.
    os.unlink(filler)
    wait_until(lambda: (delivery(watch) or {}).get("store", {}).get("ok") is True, 10,
               "status with the store writable again")
    wait_until(lambda: any(e["event"] == "cleared" and e.get("id") == SID
                           for e in events(watch, ROOT)), 10, "the store fault alert cleared")
    evs = events(watch, ROOT)
    check_sequence(evs)
    want = [e["seq"] for e in evs]
    wait_until(lambda: stored_seqs(state)[:len(want)] == want, 10,
               "every published event in the event log")
    seqs = stored_seqs(state)
    expect(seqs == list(range(1, len(seqs) + 1)), "event log has a gap: %r" % seqs)
    kinds = [(e["event"], e.get("id")) for e in evs[:4]]
    expect(("raised", AID) in kinds and ("raised", SID) in kinds and ("acked", AID) in kinds,
           "events %r" % kinds)
    # The beats written while the disk was full arrive, none missing.
    wait_until(lambda: max(r["time"] for r in influx.rows("SELECT beat FROM gateway")) > held_at,
               10, "line protocol after the disk has room")
    beats = [r["beat"] for r in influx.rows("SELECT beat FROM gateway")]
    expect(sorted(beats) == list(range(1, max(beats) + 1)), "beats missing: %r" % sorted(beats))

    # A SIGKILL while the store cannot write: the next start never numbers an event again.
    filler = fill(state)
    n = len(events(watch, ROOT))
    sim.set(1, "input", 104, 1)
    wait_until(lambda: any(e["event"] == "raised" and e.get("id") == "facp1.zone-4.fire"
                           for e in events(watch, ROOT)[n:]), 5, "zone 4 fire while full")
    # Raised a second time within seconds, the engine may call it returned or chattering.
    wait_until(lambda: any(e.get("id") == SID for e in events(watch, ROOT)[n:]), 5,
               "the store fault again")
    top = max(e["seq"] for e in events(watch, ROOT))
    gw.stop(signal.SIGKILL)
    os.unlink(filler)
    gw.start()
    sim.set(1, "input", 105, 1)
    ev5 = wait_until(lambda: [e for e in events(watch, ROOT) if e["event"] == "raised"
                              and e.get("id") == "facp1.zone-5.fire"], 10, "zone 5 fire")
    expect(ev5[0]["seq"] > top, "zone 5 fire numbered %d, published up to %d before the kill"
           % (ev5[0]["seq"], top))
    expect("numbering goes on after them" in gw.proc.stderr_text(), "no warning of the gap")
    by_seq = {}
    for e in events(watch, ROOT):
        by_seq.setdefault(e["seq"], []).append(e)
    reused = [v for v in by_seq.values() if any(x != v[0] for x in v)]
    expect(not reused, "sequence numbers used for different events: %r" % reused)

    op.close()
    watch.close()
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
