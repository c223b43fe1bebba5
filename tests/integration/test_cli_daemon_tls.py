"""The command line reaches the daemon through a TLS broker that wants a password, with the
daemon's own session settings (mqtt.cafile, username, password_file): `hallwatch command` is
written by the daemon (its log and the `events` audit, not the command line's terminal);
`alerts` lists an open alert; `alerts --history` lists an alert raised and then cleared, in
the site's time zone, bounded by --from/--to in the forms people write."""

import os
import subprocess
import time

from harness import (HALLWATCH, Gateway, Sim, TestFailure, gateway_config, run, wait_until)
from test_delivery_tls import PASSWORD, TlsMosquitto, make_pki

SITE = "hall-clitls"
AID = "facp1.zone-2.fault"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    d = os.path.join(env.tmp, "pki")
    os.makedirs(d)
    make_pki(d)
    broker = TlsMosquitto(env, d)
    pw = os.path.join(env.tmp, "mqtt.pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pw, 0o600)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "4", "--tick-ms", "200"])
    tls = 'username = "hw"; password_file = "%s"; cafile = "%s/ca.crt";' % (pw, d)
    text = gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 500)], extra_mqtt=tls,
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0},
                 {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                  "allow_commands": ["start_function_test"]}],
        state_dir=env.tmp)
    text = text.replace('name = "test hall";', 'name = "test hall"; timezone = "Asia/Shanghai";')
    gw = Gateway(env, text + 'alerts = { operators = [ "alice" ]; reply_timeout_ms = 5000; };\n')

    def cli(*args):
        p = subprocess.run([HALLWATCH, args[0], "-c", gw.cfg] + list(args[1:]),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    wait_until(lambda: "connected to broker" in gw.proc.stderr_text(), 15,
               "the daemon on the TLS broker")
    # Through the daemon: the write is logged there, with who asked.
    def written():
        rc, out, err = cli("command", "elc1", "start_function_test", "--user", "alice")
        return (rc, out, err) if rc == 0 else None
    rc, out, err = wait_until(written, 15, "the command accepted (elc1 online)", interval=0.3)
    expect("elc1: start_function_test queued on bus tcp0" in out, "command: %r %r" % (out, err))
    expect("written" not in err and "coil" not in err, "the CLI wrote itself: %r" % err)
    wait_until(lambda: "start_function_test on device elc1 asked by alice: written (coil 0 = 1)"
               in gw.proc.stderr_text(), 5, "the write in the daemon's log")

    # An alert raised, then cleared.
    t0 = int(time.time()) - 1
    sim.set(1, "input", 102, 2)  # zone 2 fault
    def listed():
        rc, out, err = cli("alerts")
        return out if rc == 0 and AID in out else None
    wait_until(listed, 10, "the open alert listed", interval=0.2)
    sim.set(1, "input", 102, 0)

    def history(*extra):
        rc, out, err = cli("alerts", "--history", *extra)
        expect(rc == 0, "alerts --history: %r %r" % (out, err))
        return out
    def both(out):
        lines = [l for l in out.splitlines() if AID in l]
        return [l.split()[2] for l in lines] if lines else None
    wait_until(lambda: both(history()) == ["raised", "cleared"], 10,
               "raised and cleared in the history", interval=0.3)
    out = history()
    expect("+08:00" in out, "times not in the site's zone (Asia/Shanghai): %r" % out)
    expect("cmd/device elc1 start_function_test" in out and "alice" in out, "the command's audit not in the history: %r" % out)
    # Bounds: ISO 8601 with an offset, seconds, local site time.
    frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
    expect(both(history("--from", frm)) == ["raised", "cleared"], "--from %s" % frm)
    expect(both(history("--to", str(t0))) is None, "--to before the alert still lists it")
    local = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0 + 8 * 3600 - 120))
    expect(both(history("--from", local)) == ["raised", "cleared"], "--from %s (local)" % local)
    local = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0 + 8 * 3600 + 3600))
    expect(both(history("--from", local)) is None, "--from an hour later still lists it")
    rc, out, err = cli("alerts", "--history", "--limit", "1")
    expect(rc == 0 and out.strip().endswith("1 event(s)"), "--limit 1: %r" % out)
    rc, out, err = cli("alerts", "--history", "--from", "yesterday")
    expect(rc == 2 and '"yesterday" is not a time' in err, "a bad time: %r %r" % (rc, err))
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
