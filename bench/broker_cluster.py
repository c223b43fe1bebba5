"""Fire alarms on a three-node broker cluster losing the node the gateway is connected to:
Debian's nats-server 2.9 (JetStream, MQTT listener) or rabbitmq-server 3.10 (MQTT plugin).
Too heavy for the test suite on a small machine (RabbitMQ: three Erlang nodes), so a bench:

  /usr/bin/python3 bench/broker_cluster.py nats|nats-escaped|rabbitmq   (after building)

nats-escaped: the same NATS cluster with the gateway's mqtt.topic_escape = "percent" (its
alert topics alert/facp1%2Ezone-1%2Efire, which nats-server 2.9 accepts).

The gateway has mqtt.hosts = [a, b, c] and starts on node a; a persistent QoS 1 subscriber
sits on node b. Fire alarms in zone 1 before node a is SIGKILLed, zone 2 right after, zone 4
once the gateway is back. Printed: the cluster's start-up time and memory, the failover time,
the alert events the subscriber got against those the gateway wrote (lost, repeated), what a
new subscriber on node c gets retained (exact topic and wildcard). Nothing asserted: the
figures go to docs/brokers.md."""

import json
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))

from cluster_util import NatsCluster, SessionSub, mqtt_accepts, seq_report  # noqa: E402
from harness import (Env, Gateway, Proc, Sim, TestFailure, free_port, gateway_config,  # noqa: E402
                     wait_until)

SITE = "hall-bench"
ROOT = "hallwatch/v1/%s/" % SITE
RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def rss_kb(pid):
    """RSS of pid and its descendants, in KiB."""
    total = 0
    for p in [pid] + [c for c in children(pid)] + [g for c in children(pid) for g in children(c)]:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class RabbitNode:
    def __init__(self, env, name, epmd_port, names):
        self.name = name
        self.mqtt_port = free_port()
        amqp, dist = free_port(), free_port()
        base = os.path.join(env.tmp, "rabbit-" + name)
        os.makedirs(base, exist_ok=True)
        conf = os.path.join(base, "rabbitmq")
        with open(conf + ".conf", "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\n"
                    "mqtt.listeners.tcp.default = 127.0.0.1:%d\n"
                    "mqtt.allow_anonymous = true\nloopback_users = none\n"
                    "cluster_formation.peer_discovery_backend = classic_config\n"
                    % (amqp, self.mqtt_port))
            for i, n in enumerate(names):
                f.write("cluster_formation.classic_config.nodes.%d = %s@localhost\n" % (i + 1, n))
        plugins = os.path.join(env.tmp, "rabbit-plugins")
        with open(plugins, "w") as f:
            f.write("[rabbitmq_mqtt].\n")
        home = os.path.join(env.tmp, "rabbit-home")  # one Erlang cookie for the three nodes
        os.makedirs(home, exist_ok=True)
        cookie = os.path.join(home, ".erlang.cookie")
        if not os.path.exists(cookie):
            with open(cookie, "w") as f:
                f.write("HALLWATCHBENCHCOOKIE")
            os.chmod(cookie, 0o400)
        e = dict(os.environ, HOME=home, ERL_EPMD_PORT=str(epmd_port),
                 RABBITMQ_NODENAME="%s@localhost" % name, RABBITMQ_CONFIG_FILE=conf,
                 RABBITMQ_DIST_PORT=str(dist), RABBITMQ_MNESIA_BASE=os.path.join(base, "mnesia"),
                 RABBITMQ_LOG_BASE=os.path.join(base, "log"),
                 RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
                 RABBITMQ_PID_FILE=os.path.join(base, "pid"))
        self.proc = env.add(Proc("rabbit-" + name, [RABBIT], env.tmp, env=e))

    def kill(self):
        """SIGKILL the Erlang VM (the wrapper script's child) by its PID."""
        for c in children(self.proc.pid):
            os.kill(c, signal.SIGKILL)
        self.proc.stop(signal.SIGKILL)


class RabbitCluster:
    def __init__(self, env, names=("a", "b", "c")):
        t0 = time.monotonic()
        self.epmd_port = free_port()
        self.epmd = env.add(Proc("epmd", ["/usr/bin/epmd", "-port", str(self.epmd_port)],
                                 env.tmp))
        wait_until(lambda: __import__("harness").port_open(self.epmd_port), 10, "epmd")
        self.nodes = {n: RabbitNode(env, n, self.epmd_port, names) for n in names}
        for n in self.nodes.values():
            wait_until(lambda n=n: mqtt_accepts(n.mqtt_port), 180,
                       "the MQTT listener of RabbitMQ node %s" % n.name, interval=0.5)
        self.startup_s = time.monotonic() - t0

    def __getitem__(self, name):
        return self.nodes[name]


def retained(port, topic):
    sub = SessionSub(port, ROOT, "hw-bench-ret-%d-%d" % (os.getpid(), time.monotonic_ns() % 10**6),
                     clean=True, topic=topic)
    t_end = time.monotonic() + 3  # a deliberate listening window: how much arrives
    while time.monotonic() < t_end:
        time.sleep(0.1)
    got = sorted(sub.topics())
    sub.close()
    return got


def fires(sub):
    return sorted({e.get("id") for e in sub.events() if e.get("event") == "raised"})


def soft_wait(cond, timeout):
    try:
        wait_until(cond, timeout, "")
        return True
    except TestFailure:
        return False


def main(kind):
    with Env("broker-cluster-" + kind) as env:
        try:
            run_bench(kind, env)
        finally:
            # The Erlang VMs are children of rabbitmq-server's wrapper script, which the
            # Env ends: end them first, by their PIDs.
            for p in env.procs:
                if p.name.startswith("rabbit-"):
                    for c in children(p.pid):
                        try:
                            os.kill(c, signal.SIGKILL)
                        except OSError:
                            pass


def run_bench(kind, env):
    if True:
        cluster = NatsCluster(env) if kind.startswith("nats") else RabbitCluster(env)
        a, b, c = cluster["a"], cluster["b"], cluster["c"]
        rss = sum(rss_kb(n.proc.pid) for n in (a, b, c))
        print("%s: three nodes ready in %.1f s, %d MiB RSS" % (kind, cluster.startup_s, rss // 1024))
        sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
        sub_b = SessionSub(b.mqtt_port, ROOT, "hw-bench-b-%d" % os.getpid())
        hosts = ", ".join('"127.0.0.1:%d"' % n.mqtt_port for n in (a, b, c))
        cfg = gateway_config(SITE, heartbeat=1, buses=[("tcp0", sim.port, 300)],
                             devices=[{"id": "facp1", "bus": "tcp0", "unit": 1,
                                       "profile": "facp-generic", "interval_ms": 100,
                                       "life_check_s": 0}], state_dir=env.tmp)
        cfg = cfg.replace("mqtt = { enabled = false; };",
                          "mqtt = { enabled = true; hosts = [ %s ]; heartbeat_s = 1; %s"
                          "reconnect_min_ms = 200; reconnect_max_ms = 2000; };"
                          % (hosts, 'topic_escape = "percent"; ' if kind == "nats-escaped"
                             else ""))
        gw = Gateway(env, cfg)
        gw.proc.critical = False
        soft_wait(lambda: (sub_b.latest("device/facp1/state") or {}).get("online"), 30)
        sim.set(1, "input", 101, 1)
        before = soft_wait(lambda: len(fires(sub_b)) >= 1, 30)
        t_kill = time.monotonic()
        sessions_before = gw.proc.stderr_text().count("connected to broker")
        a.kill()
        sim.set(1, "input", 102, 1)

        def back():
            st = [p for tp, p in sub_b.after(t_kill) if tp == ROOT + "status"]
            return st and json.loads(st[-1].decode()).get("state") == "online"
        failover = time.monotonic() - t_kill if soft_wait(back, 60) else None
        sim.set(1, "input", 104, 1)
        soft_wait(lambda: len(fires(sub_b)) >= 3, 30)
        exact = retained(c.mqtt_port, ROOT + "status")
        wild = retained(c.mqtt_port, ROOT + "#")
        gw.stop()
        db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"))
        last = db.execute("SELECT MAX(seq) FROM alert_event").fetchone()[0] or 0
        db.close()
        missing, dup = seq_report(sub_b.events(), last)
        log = gw.proc.stderr_text()
        print("%s: zone 1 before the kill seen: %s; failover (kill to status online) %s; "
              "events written %d, lost %d, repeated %d; alarms seen %r"
              % (kind, before, "%.1f s" % failover if failover else "never", last, len(missing),
                 dup, fires(sub_b)))
        print("%s: gateway sessions %d before the kill, %d in all, MQTT %s" % (
            kind, sessions_before, log.count("connected to broker"),
            "3.1.1" if "(MQTT 3.1.1)" in log else "v5" if "(MQTT v5)" in log else "none"))
        import collections
        import re
        why = collections.Counter(re.sub(r"\d+", "N", line.split("mqtt: ", 1)[1])
                                  for line in log.splitlines() if "mqtt: " in line)
        for line, n in why.most_common(6):
            print("%s: gateway log x%d: %s" % (kind, n, line[:160]))
        print("%s: retained at node c, exact topic status: %r" % (kind, exact))
        print("%s: retained at node c, wildcard %s#: %d topics %r"
              % (kind, ROOT, len(wild), wild[:6]))
        sub_b.close()
        env.ok = os.environ.get("HW_BENCH_KEEP") is None  # keep the folder (the logs) if set


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("nats", "nats-escaped", "rabbitmq"):
        sys.exit("usage: broker_cluster.py nats|nats-escaped|rabbitmq")
    main(sys.argv[1])
