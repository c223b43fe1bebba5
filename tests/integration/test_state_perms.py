"""What the daemon writes is not for everyone: started with the permissive umask of a shell
(022), it creates hallwatch.db with its -wal and -shm, recordings and snapshots without any
permission for others (0640) and its directories 0750; a pre-existing state directory that
every user can write is reported at start and at every reload until it is fixed."""

import os
import signal
import stat

from alerts_util import Operator
from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-perms"
ROOT = "hallwatch/v1/%s/" % SITE
WARNING = "is writable by every user"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def main(env):
    os.umask(0o022)
    state = os.path.join(env.tmp, "state")
    os.mkdir(state)
    os.chmod(state, 0o777)
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    c = dict(FAST, id="cam1", url=cam.url("/cam1"))
    text = (gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
            + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    gw = Gateway(env, text)
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j.get("online"), 20, "cam1 online")

    op = Operator(broker.port, ROOT)
    r = op.send("snapshot", {"camera": "cam1"}, user="alice")
    expect(r.get("ok") is True, "snapshot refused: %r" % r)
    snap = r["path"]
    op.close()
    segdir = os.path.join(state, "video", "cam1")
    segs = wait_until(lambda: [os.path.join(segdir, f) for f in os.listdir(segdir)]
                      if os.path.isdir(segdir) and os.listdir(segdir) else None, 10,
                      "a recording segment")
    db = os.path.join(state, "hallwatch.db")
    files = [db, db + "-wal", db + "-shm", snap] + segs
    wait_until(lambda: all(os.path.exists(f) for f in files), 5, "the database's -wal and -shm")
    dirs = [os.path.join(state, "video"), segdir, os.path.dirname(snap)]
    for f in files:
        print("%04o %s" % (mode(f), f))
        expect(mode(f) & 0o007 == 0, "%s is mode %04o: others may read it" % (f, mode(f)))
        expect(mode(f) & 0o020 == 0, "%s is mode %04o: its group may write it" % (f, mode(f)))
    for d in dirs:
        print("%04o %s/" % (mode(d), d))
        expect(mode(d) == 0o750, "%s is mode %04o, not 0750" % (d, mode(d)))

    wait_until(lambda: gw.proc.stderr_text().count(WARNING) == 1, 5,
               "the warning about the 0777 state_dir at start")
    expect("state_dir: %s %s (mode 0777)" % (state, WARNING) in gw.proc.stderr_text(),
           "the warning does not name the directory and its mode")

    # A reload says it again; once the directory is fixed, it says nothing.
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") == 1, 10,
               "the first reload")
    wait_until(lambda: gw.proc.stderr_text().count(WARNING) == 2, 5, "the warning on reload")
    os.chmod(state, 0o750)
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") == 2, 10,
               "the second reload")
    expect(gw.stop() == 0, "exit code after SIGTERM")
    expect(gw.proc.stderr_text().count(WARNING) == 2, "a warning about a 0750 state_dir")
    watch.close()


if __name__ == "__main__":
    run(main)
