"""Snapshots in flight when the cameras go away, on a reload (SIGHUP) or at the end (SIGTERM):
(the reloads here change the MQTT session's keepalive_s, which restarts everything, cameras
included: a reload that leaves the cameras alone leaves their snapshots alone too)
every request still gets one reply (`cancelled` for those not written), the daemon neither
crashes nor leaks (the sanitizer build runs this too: its report makes the exit code non-zero)
and never waits without bound for a snapshot worker stuck in the file system
(snapshot_util.Stall): such a worker is left to end on its own and cleans up after itself
when the file system comes back, after the reload or after the process is gone."""

import os
import signal
import time

from alerts_util import Operator
from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until
from snapshot_util import (Stall, blocked_opening_fifo, reply, send_nowait, threads_opening_fifo,
                           wait_reply)
from videocam import FAST, TestCam, camera_cfg, jpeg_size

SITE = "hall-snapcancel"
ROOT = "hallwatch/v1/%s/" % SITE
CAM = ROOT + "camera/cam1/state"
BURST = 6


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def snapshot_threads(pid):
    """How many snapshot workers (threads named "snapshot") pid has."""
    tasks = "/proc/%d/task" % pid
    n = 0
    for tid in os.listdir(tasks):
        try:
            with open(os.path.join(tasks, tid, "comm")) as f:
                n += f.read().strip() == "snapshot"
        except OSError:
            pass
    return n


def count_log(gw, text):
    return gw.proc.stderr_text().count(text)


def check_burst(op, corrs, snaps, what):
    """Every request of a burst answered: written (a 320x180 JPEG), cancelled, or refused
    `not_ready` by the cameras of the new configuration (no file)."""
    rs = [wait_reply(op, c, 15, "reply %d of the burst %s" % (i, what))
          for i, c in enumerate(corrs)]
    for r in rs:
        if r.get("ok"):
            expect(os.path.dirname(r.get("path", "")) == snaps
                   and jpeg_size(r["path"]) == (320, 180), "burst %s: %r" % (what, r))
        else:
            expect(r.get("error") in ("cancelled", "not_ready") and "path" not in r,
                   "burst %s: %r" % (what, r))
    print("burst %s: %s" % (what, ", ".join(
        "%d %s" % (sum(1 for r in rs if r.get("error") == e), e or "written")
        for e in (None, "cancelled", "not_ready"))))
    return {os.path.basename(r["path"]) for r in rs if r.get("ok")}


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    snaps = os.path.join(state, "snapshots")
    def cfg(keepalive=30):
        return (gateway_config(
            SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
            devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                      "interval_ms": 100, "life_check_s": 0}],
            heartbeat=0, state_dir=state, extra_mqtt="keepalive_s = %d;" % keepalive)
            + camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"))])
            + 'alerts = { operators = [ "alice" ]; };\n')
    gw = Gateway(env, cfg())
    watch.wait_json(CAM, lambda j: j.get("online") and j.get("width") == 320, 20,
                    "cam1 online at 320x180")
    op = Operator(broker.port, ROOT)
    good = set()

    def online_again():
        n = watch.count(CAM)
        wait_until(lambda: watch.count(CAM) > n and watch.json(CAM).get("online"), 20,
                   "cam1 online again after the reload")

    # 1. SIGHUP while a snapshot is stuck in open(): answered `cancelled` at once, the reload
    #    goes through, the stuck worker is left behind and ends when the file system is back.
    stall = Stall(snaps, "cam1")
    corr = send_nowait(op, "snapshot", {"camera": "cam1", "request_id": "hup"}, "alice")
    wait_until(lambda: blocked_opening_fifo(gw.proc.pid), 5, "the snapshot stuck in open()")
    n = count_log(gw, "configuration reloaded")
    t0 = time.monotonic()
    gw.rewrite(cfg(31))  # a new MQTT session: everything restarts
    gw.proc.send(signal.SIGHUP)
    r = wait_reply(op, corr, 3, "the stuck snapshot's reply on SIGHUP")
    expect(r.get("ok") is False and r.get("error") == "cancelled" and r.get("request_id") == "hup",
           "stuck snapshot on SIGHUP: %r" % r)
    wait_until(lambda: count_log(gw, "configuration reloaded") > n, 10, "the reload")
    print("SIGHUP with a stuck snapshot: answered %r, reloaded in %.1f s"
          % (r["error"], time.monotonic() - t0))
    expect(count_log(gw, "snapshot worker(s) still blocked") == 1,
           "the reload did not say it left a stuck worker behind")
    online_again()
    stall.release()
    wait_until(lambda: not blocked_opening_fifo(gw.proc.pid), 5,
               "the left-behind worker to leave open()")
    r = op.send("snapshot", {"camera": "cam1"}, user="alice")
    expect(r.get("ok") is True and jpeg_size(r["path"]) == (320, 180),
           "snapshot after the reload: %r" % r)
    good.add(os.path.basename(r["path"]))

    # 2. SIGHUP right after a burst of snapshots (some in flight, depending on timing): every
    #    request is answered, written or cancelled.
    corrs = [send_nowait(op, "snapshot", {"camera": "cam1"}, "alice") for _ in range(BURST)]
    wait_until(lambda: snapshot_threads(gw.proc.pid) or any(reply(op, c) for c in corrs), 5,
               "the burst being encoded", interval=0.001)
    gw.rewrite(cfg(32))
    gw.proc.send(signal.SIGHUP)
    good |= check_burst(op, corrs, snaps, "at SIGHUP")
    online_again()

    # 3. A fire still gets out after two reloads with snapshots in flight.
    t0 = time.monotonic()
    sim.set(1, "input", 103, 1)
    wait_until(lambda: watch.json(ROOT + "alert/facp1.zone-3.fire"), 5, "the fire alert")
    print("fire after the reloads: alert in %.0f ms" % ((time.monotonic() - t0) * 1000))

    # 4. SIGTERM with 1 + BURST snapshots stuck in open(), each on its own worker: every
    #    request answered `cancelled`, a clean exit within the bounds (the stuck workers are
    #    not waited for without end).
    stall = Stall(snaps, "cam1")
    stuck = send_nowait(op, "snapshot", {"camera": "cam1", "request_id": "term"}, "alice")
    corrs = [send_nowait(op, "snapshot", {"camera": "cam1"}, "alice") for _ in range(BURST)]
    wait_until(lambda: threads_opening_fifo(gw.proc.pid) == BURST + 1, 10,
               "%d snapshots stuck in open()" % (BURST + 1))
    t0 = time.monotonic()
    rc = gw.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - t0
    stall.release()
    err = gw.proc.stderr_text()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?):\n%s" % (rc, err[-3000:]))
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error"):
        expect(bad not in err, "sanitizer report in the log:\n%s" % err[-3000:])
    r = wait_reply(op, stuck, 3, "the stuck snapshot's reply on SIGTERM")
    expect(r.get("ok") is False and r.get("error") == "cancelled", "stuck at SIGTERM: %r" % r)
    answered = [reply(op, c) for c in corrs]
    expect(all(a is not None and a.get("error") == "cancelled" for a in answered),
           "stuck requests at SIGTERM not answered `cancelled`: %r" % answered)
    expect("%d snapshot worker(s) still blocked" % (BURST + 1) in err,
           "the exit did not say it left %d stuck workers behind" % (BURST + 1))
    print("SIGTERM with a stuck snapshot: exit 0 in %.1f s" % took)
    left = set(os.listdir(snaps)) - good
    expect(not left, "files left in %s besides the written snapshots: %r" % (snaps, left))
    op.close()
    watch.close()


if __name__ == "__main__":
    run(main)
