"""Helpers of the snapshot tests: requests sent without waiting for their reply, and a
snapshot whose file write stalls.

A stalled write is what a hung network share does to the gateway: open() of the file does not
return. The test makes it happen without a network share: the daemon names a snapshot
<state_dir>/snapshots/<camera>-<UTC time to the ms>.jpg, so FIFOs are made under every name
of the next few seconds; opening one for writing waits until a reader comes (Stall.release).
Whether a thread of the daemon waits there is read from /proc (the kernel function it sleeps
in, or else its system call)."""

import json
import os
import stat
import time
import uuid

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness import wait_until

OPENAT = 257  # x86-64


def send_nowait(op, verb, body, user):
    """Publishes cmd/<verb> from the Operator op; returns the correlation data to wait on."""
    corr = uuid.uuid4().hex.encode()
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = op.reply_topic
    props.CorrelationData = corr
    props.UserProperty = ("user", user)
    op.c.publish(op.root + "cmd/" + verb, json.dumps(body), qos=1, properties=props)
    return corr


def reply(op, corr):
    """The reply to corr, or None yet."""
    with op.lock:
        return op.replies.get(corr)


def wait_reply(op, corr, timeout, what):
    return wait_until(lambda: reply(op, corr), timeout, what, interval=0.005)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def threads_opening_fifo(pid):
    """How many threads of pid sleep in open() of a FIFO that has no reader."""
    tasks = os.path.join("/proc", str(pid), "task")
    try:
        tids = os.listdir(tasks)
    except OSError:
        return 0
    n = 0
    for tid in tids:
        wchan = _read(os.path.join(tasks, tid, "wchan"))
        if wchan in ("wait_for_partner", "fifo_open"):
            n += 1
        elif wchan in ("", "0"):  # kernel symbols hidden: the system call tells
            sc = _read(os.path.join(tasks, tid, "syscall")).split()
            n += 1 if sc and sc[0] == str(OPENAT) and len(sc) > 2 else 0
    return n


def blocked_opening_fifo(pid):
    return threads_opening_fifo(pid) > 0


class Stall:
    """FIFOs under every snapshot name of camera for the next `seconds` seconds."""

    def __init__(self, snaps_dir, camera, seconds=6.0):
        os.makedirs(snaps_dir, exist_ok=True)
        self.paths = []
        t0 = int(time.time() * 1000) - 200
        for ms in range(t0, t0 + int(seconds * 1000) + 200):
            name = "%s-%s.%03dZ.jpg" % (camera, time.strftime("%Y%m%dT%H%M%S",
                                                              time.gmtime(ms // 1000)), ms % 1000)
            p = os.path.join(snaps_dir, name)
            if os.path.lexists(p):  # a snapshot taken just before
                continue
            os.mkfifo(p, 0o600)
            self.paths.append(p)
        self.until = (t0 + int(seconds * 1000)) / 1000.0

    def release(self):
        """Lets any writer waiting on one of the FIFOs go on (then fail: the reader is gone)
        and removes them all."""
        for p in self.paths:
            try:
                if not stat.S_ISFIFO(os.lstat(p).st_mode):
                    continue
                fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
                os.unlink(p)
            except OSError:
                pass
        self.paths = []
