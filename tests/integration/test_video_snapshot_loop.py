"""A snapshot never holds the main loop: a fire raised while a `cmd/snapshot` is stuck writing
its file (a stalled file system: see snapshot_util.Stall) reaches `events` within 1.5 s, far
below the snapshot's own bound of 5 s; the snapshot is then answered `timeout` about 5 s after
the request, leaves no file, and once the file system is back the next snapshot works.

Before snapshots moved off the loop, the daemon's loop itself waited in open() of the file:
no alarm got out until the file system came back."""

import json
import os
import time

from alerts_util import Operator
from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until
from snapshot_util import Stall, blocked_opening_fifo, send_nowait, wait_reply
from videocam import FAST, TestCam, camera_cfg, jpeg_size

SITE = "hall-snaploop"
ROOT = "hallwatch/v1/%s/" % SITE
CAM = ROOT + "camera/cam1/state"
FIRE_BOUND_S = 1.5
SNAP_TIMEOUT_S = 5.0


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def raised_at(watch, aid, t0):
    """Arrival time of the raised event of aid after t0, or None."""
    with watch.lock:
        for t, topic, payload, _ in watch.msgs:
            if t >= t0 and topic == ROOT + "events":
                e = json.loads(payload.decode())
                if e.get("event") == "raised" and e.get("id") == aid:
                    return t
    return None


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    snaps = os.path.join(state, "snapshots")
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        heartbeat=0, state_dir=state)
        + camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"))])
        + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    watch.wait_json(CAM, lambda j: j.get("online") and j.get("width") == 320, 20,
                    "cam1 online at 320x180")
    op = Operator(broker.port, ROOT)

    # A snapshot that works, for reference.
    r = op.send("snapshot", {"camera": "cam1"}, user="alice")
    expect(r.get("ok") is True and os.path.isfile(r.get("path") or ""), "first snapshot: %r" % r)
    good = {os.path.basename(r["path"])}

    # 1. The file system stalls: the snapshot's open() waits.
    stall = Stall(snaps, "cam1")
    t_req = time.monotonic()
    corr = send_nowait(op, "snapshot", {"camera": "cam1", "request_id": "stuck"}, "alice")
    wait_until(lambda: blocked_opening_fifo(gw.proc.pid), 5,
               "a thread of the daemon waiting in open() of the snapshot file")
    expect(time.time() < stall.until, "the stall window ended before the daemon blocked")

    # 2. A fire meanwhile gets out at once.
    t0 = time.monotonic()
    sim.set(1, "input", 103, 1)
    t1 = wait_until(lambda: raised_at(watch, "facp1.zone-3.fire", t0), FIRE_BOUND_S,
                    "the fire's raised event while a snapshot is stuck (bound %.1f s)"
                    % FIRE_BOUND_S, interval=0.005)
    print("fire raised -> events in %.0f ms with a snapshot stuck in open()" % ((t1 - t0) * 1000))

    # 3. The stuck snapshot is answered at its timeout, not later, and names no file.
    r = wait_reply(op, corr, SNAP_TIMEOUT_S + 3, "the stuck snapshot's reply")
    waited = time.monotonic() - t_req
    expect(r.get("ok") is False and r.get("error") == "timeout" and "path" not in r
           and r.get("request_id") == "stuck", "stuck snapshot: %r" % r)
    expect(SNAP_TIMEOUT_S - 0.5 <= waited <= SNAP_TIMEOUT_S + 2,
           "the stuck snapshot was answered after %.1f s, its bound is %.0f s"
           % (waited, SNAP_TIMEOUT_S))
    print("stuck snapshot answered %r after %.1f s" % (r.get("error"), waited))

    # 4. The file system comes back: the worker ends and removes its late file; snapshots work.
    stall.release()
    wait_until(lambda: not blocked_opening_fifo(gw.proc.pid), 5, "the worker to leave open()")
    r = op.send("snapshot", {"camera": "cam1"}, user="alice")
    expect(r.get("ok") is True and jpeg_size(r["path"]) == (320, 180),
           "snapshot after the stall: %r" % r)
    good.add(os.path.basename(r["path"]))
    wait_until(lambda: set(os.listdir(snaps)) == good, 5,
               "only the written snapshots in %s (have %r)" % (snaps, os.listdir(snaps)))
    op.close()
    watch.close()


if __name__ == "__main__":
    run(main)
