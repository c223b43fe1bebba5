"""The command line's parser and its sentences: an unknown command is named as such (exit 2)
before any -c check; -h and --help on every subcommand print that subcommand's usage (exit 0);
a missing -c names the subcommand; with a broker up but no daemon, a verb that goes through the
daemon says so in a sentence naming the site and the broker (exit 1), within its bound."""

import subprocess
import time

from harness import HALLWATCH, Mosquitto, TestFailure, gateway_config, run

SUBS = ["run", "check-config", "command", "alerts", "ack", "shelve", "unshelve", "snapshot",
        "clip", "recordings"]


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def hw(*args, timeout=20):
    p = subprocess.run([HALLWATCH] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main(env):
    rc, out, err = hw("frobnicate")
    expect(rc == 2 and 'hallwatch: unknown command "frobnicate"' in err and "-c" not in err,
           "unknown command: %r %r %r" % (rc, out, err))
    rc, out, err = hw("frobnicate", "-c", "/nonexistent.cfg")
    expect(rc == 2 and 'unknown command "frobnicate"' in err, "with -c: %r %r" % (rc, err))
    rc, out, err = hw("help", "frobnicate")
    expect(rc == 2 and 'unknown command "frobnicate"' in err, "help of it: %r %r" % (rc, err))

    for sub in SUBS:
        for flag in ("-h", "--help"):
            rc, out, err = hw(sub, flag)
            expect(rc == 0 and out.startswith("usage: hallwatch %s " % sub) and err == "",
                   "%s %s: %r %r %r" % (sub, flag, rc, out, err))
        # -h wins over what else is on the line, even a missing or broken -c
        rc, out, err = hw(sub, "-c", "/nonexistent.cfg", "--help")
        expect(rc == 0 and out.startswith("usage: hallwatch %s " % sub), "%s -c x --help" % sub)
        rc, out, err = hw("help", sub)
        expect(rc == 0 and out.startswith("usage: hallwatch %s " % sub), "help %s" % sub)
        rc, out, err = hw(sub)
        expect(rc == 2 and ("hallwatch %s: needs -c FILE" % sub) in err,
               "%s without -c: %r %r" % (sub, rc, err))
    rc, out, err = hw("--help")
    expect(rc == 0 and all(("hallwatch %s " % s) in out for s in SUBS), "--help: %r" % out)
    rc, out, err = hw("snapshot", "-c", "x.cfg", "--for", "2h", "cam1")
    expect(rc == 2 and "hallwatch snapshot: unknown option --for" in err, "option: %r" % err)

    # A broker, no daemon: the sentence says what to check.
    broker = Mosquitto(env)
    cfg = env.tmp + "/gw.cfg"
    with open(cfg, "w") as f:
        f.write(gateway_config("hall-nod", mqtt_port=broker.port, state_dir=env.tmp)
                + "alerts = { reply_timeout_ms = 700; };\n")
    for args in (["command", "elc1", "start_function_test"], ["alerts"], ["ack", "a.b.c"],
                 ["snapshot", "cam1"], ["recordings", "cam1"], ["alerts", "--history"]):
        t0 = time.monotonic()
        rc, out, err = hw(args[0], "-c", cfg, *args[1:])
        took = time.monotonic() - t0
        want = ("no reply from the gateway of site hall-nod within %s s: is `hallwatch run` "
                "running and connected to 127.0.0.1:%d?")
        expect(rc == 1 and any(want % (n, broker.port) in err for n in ("1", "10")),
               "%s without a daemon: %r %r %r" % (args, rc, out, err))
        expect(took < 15, "%s took %.1f s" % (args, took))
    broker.stop()
    rc, out, err = hw("alerts", "-c", cfg)
    expect(rc == 1 and ("cannot reach the broker 127.0.0.1:%d" % broker.port) in err,
           "no broker: %r %r" % (rc, err))


if __name__ == "__main__":
    run(main)
