"""sd_notify without libsystemd: with NOTIFY_SOCKET and WATCHDOG_USEC set as systemd
sets them for Type=notify and WatchdogSec=, the daemon sends READY=1 once it runs and
WATCHDOG=1 from its main loop at half the interval, and STOPPING=1 on SIGTERM."""

import os
import socket
import time

from harness import (CRITICAL, HALLWATCH, Proc, TestFailure, gateway_config, run, wait_until)

WATCHDOG_USEC = 400000


def main(env):
    path = os.path.join(env.tmp, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    got = []  # (monotonic time, message)

    def drain():
        while True:
            try:
                got.append((time.monotonic(), s.recv(4096).decode()))
            except BlockingIOError:
                return

    cfg = os.path.join(env.tmp, "hw.cfg")
    with open(cfg, "w") as f:
        f.write(gateway_config("hall-notify", state_dir=env.tmp))
    e = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    gw = env.add(Proc("hallwatch", [HALLWATCH, "run", "-c", cfg], env.tmp, env=e))
    gw.critical = True
    CRITICAL.append(gw)

    def has(msg):
        drain()
        return [t for t, m in got if msg in m.split("\n")]
    t_ready = wait_until(lambda: has("READY=1"), 10, "READY=1")[0]
    # WATCHDOG=1 keeps coming: at least 8 in the next 2 s (one every 200 ms expected).
    wait_until(lambda: len([t for t in has("WATCHDOG=1") if t > t_ready]) >= 8, 5,
               "WATCHDOG=1 every half interval")
    beats = [t for t in has("WATCHDOG=1") if t > t_ready]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    if max(gaps) > WATCHDOG_USEC / 1e6:
        raise TestFailure("a watchdog gap of %.3f s exceeds the interval" % max(gaps))
    rc = gw.stop()
    drain()
    if rc != 0 or not has("STOPPING=1"):
        raise TestFailure("exit code %s, messages %r" % (rc, [m for _, m in got][-3:]))
    # WATCHDOG_PID naming another process: no watchdog pings.
    got.clear()
    e["WATCHDOG_PID"] = "1"
    gw2 = env.add(Proc("hallwatch2", [HALLWATCH, "run", "-c", cfg], env.tmp, env=e))
    t2 = wait_until(lambda: has("READY=1"), 10, "READY=1 (second run)")[0]
    wait_until(lambda: time.monotonic() > t2 + 0.6, 2, "0.6 s to pass")
    if has("WATCHDOG=1"):
        raise TestFailure("WATCHDOG=1 sent although WATCHDOG_PID names another process")
    gw2.stop()
    s.close()


if __name__ == "__main__":
    run(main)
