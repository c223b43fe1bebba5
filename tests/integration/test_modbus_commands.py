"""Writes are read-only by default: a profile command runs only where the device's
allow_commands names it, is logged with who asked, and really reaches the device; from the
command line (which goes through the daemon's cmd/device: the write is in the daemon's log, not
on the command line's terminal) and over MQTT (cmd/device, MQTT v5, operators only)."""

import subprocess

from alerts_util import Operator, events
from harness import (HALLWATCH, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-cmd"
ROOT = "hallwatch/v1/%s/" % SITE


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--tick-ms", "200"])
    sim.set(1, "discrete", 1, 1)  # the panel's sounder is on
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 500)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic"},
                 {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                  "allow_commands": ["start_function_test"],
                  "intervals": {"alarm": 100, "detail": 200}}],
        state_dir=env.tmp) + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["online"], 10, "elc1 online")

    def command(dev, name, user="alice"):
        return subprocess.run([HALLWATCH, "command", "-c", gw.cfg, dev, name, "--user", user],
                              capture_output=True, text=True, timeout=20)

    # Not allowed: the fire panel is read-only; nothing is written; the reason is printed.
    r = command("facp1", "silence", "alice")
    if r.returncode != 1 or ('hallwatch: command refused: not_allowed: "silence" is not in the '
                             'allow_commands of device "facp1"') not in r.stderr:
        raise TestFailure("silence on a read-only panel: exit %d, %r" % (r.returncode, r.stderr))
    wait_until(lambda: "silence on device facp1 asked by alice: refused" in gw.proc.stderr_text(),
               5, "the refusal in the daemon's log with who asked")
    if sim.get(1, "discrete", 1) != 1:
        raise TestFailure("the refused silence reached the panel")
    # Not an operator: refused by the daemon's router.
    r = command("elc1", "start_function_test", "mallory")
    if r.returncode != 1 or "not_authorized" not in r.stderr or "mallory" not in r.stderr:
        raise TestFailure("a non-operator's command: exit %d, %r" % (r.returncode, r.stderr))

    # Unknown command, unknown device.
    r = command("elc1", "self_destruct")
    if r.returncode != 1 or 'unknown_command: device "elc1" has no command "self_destruct"' not in r.stderr:
        raise TestFailure("unknown command: exit %d, %r" % (r.returncode, r.stderr))
    r = command("elc9", "start_function_test")
    if r.returncode != 1 or 'unknown_device: no device "elc9"' not in r.stderr:
        raise TestFailure("unknown device: exit %d, %r" % (r.returncode, r.stderr))

    # Allowed: the function test starts on the controller and its outcome is read back. The
    # write happens in the daemon, logged there with who asked; the command line has no link.
    r = command("elc1", "start_function_test")
    if r.returncode != 0 or "elc1: start_function_test queued on bus tcp0" not in r.stdout:
        raise TestFailure("allowed command failed: %r %r" % (r.stdout, r.stderr))
    if "written" in r.stderr or "coil" in r.stderr:
        raise TestFailure("the command line wrote itself: %r" % r.stderr)
    wait_until(lambda: "start_function_test on device elc1 asked by alice: written (coil 0 = 1)"
               in gw.proc.stderr_text(), 5, "the write in the daemon's log with who asked")
    watch.wait_json(ROOT + "device/elc1/state",
                    lambda j: j["points"]["function_test_running"]["v"] is True, 10,
                    "the function test running on the controller")
    done = watch.wait_json(ROOT + "device/elc1/state",
                           lambda j: j["points"]["function_test_running"]["v"] is False
                           and j["points"]["ft_last_result"].get("label") == "passed", 10,
                           "the function test's result")
    if not done["points"]["ft_last_time"]["v"]:
        raise TestFailure("ft_last_time not set after the test")

    # The same over MQTT: cmd/device from an operator, under the same allow_commands.
    op = Operator(broker.port, ROOT)
    r = op.send("device", {"device": "elc1", "command": "start_function_test"}, user="mallory")
    if r["ok"] or r["error"] != "not_authorized":
        raise TestFailure("cmd/device from a non-operator: %r" % r)
    r = op.send("device", {"device": "facp1", "command": "silence"}, user="alice")
    if r["ok"] or r["error"] != "not_allowed":
        raise TestFailure("cmd/device silence on a read-only panel: %r" % r)
    if sim.get(1, "discrete", 1) != 1:
        raise TestFailure("the refused silence reached the panel")
    t_before = done["points"]["ft_last_time"]["v"]
    sim.set(2, "input", 10, 0)  # forget the last test, so the next one is seen
    sim.set(2, "input", 11, 0)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["points"]["ft_last_time"]["v"] == 0, 10,
                    "ft_last_time cleared")
    r = op.send("device", {"device": "elc1", "command": "start_function_test"}, user="alice")
    if not r["ok"]:
        raise TestFailure("cmd/device from an operator: %r" % r)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["points"]["ft_last_time"]["v"] >= t_before,
                    10, "the function test asked over MQTT")
    wait_until(lambda: gw.proc.stderr_text().count("asked by alice: written") == 2, 5,
               "the second write logged with alice")
    audit = [e for e in events(watch, ROOT) if e.get("event") == "command" and e.get("verb") == "device"]
    got = [(e["by"], e["result"], e.get("device"), e.get("command")) for e in audit]
    cli = [("alice", "refused", "facp1", "silence"), ("mallory", "refused", "elc1", "start_function_test"),
           ("alice", "refused", "elc1", "self_destruct"), ("alice", "refused", "elc9", "start_function_test"),
           ("alice", "accepted", "elc1", "start_function_test")]
    want = cli + [("mallory", "refused", "elc1", "start_function_test"), ("alice", "refused", "facp1", "silence"),
                  ("alice", "accepted", "elc1", "start_function_test")]
    if got != want:
        raise TestFailure("cmd/device audit events %r, want %r" % (got, want))
    op.close()
    watch.close()


if __name__ == "__main__":
    run(main)
