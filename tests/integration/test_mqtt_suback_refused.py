"""A broker that refuses the gateway's subscription to cmd/+ (a SUBACK failure code), then
takes it: the gateway asks again until it does, and commands work without a reconnect.

A NATS node refuses subscriptions while its JetStream elects leaders after a node died
(docs/brokers.md, seen in tests/integration/test_mqtt_cluster_nats.py), but when is a matter
of timing. Here a real mosquitto sits behind a relay that answers the gateway's first two
SUBSCRIBEs itself with SUBACK 0x80 (without passing them on) and relays everything else byte
for byte. Checked: the refusal is logged once, a command is answered in the same session (the
old gateway stayed deaf until its next reconnect), the recovery is logged, no reconnect."""

import socket
import threading

from alerts_util import Operator
from harness import Gateway, Mosquitto, Sim, TestFailure, gateway_config, run, wait_until

SITE = "hall-suback"
ROOT = "hallwatch/v1/%s/" % SITE
REFUSE = 2


def read_exact(s, n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x:
            raise OSError("closed")
        b += x
    return b


def read_packet(s):
    """One MQTT packet: (first byte, the remaining length's bytes, body)."""
    head = read_exact(s, 1)
    raw, rl, mult = b"", 0, 1
    while True:
        d = read_exact(s, 1)
        raw += d
        rl += (d[0] & 0x7F) * mult
        mult *= 128
        if not d[0] & 0x80:
            break
    return head, raw, read_exact(s, rl)


class RefusingRelay:
    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.lock = threading.Lock()
        self.refused = 0
        self.subscribes = 0
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.broker_port))
            wlock = threading.Lock()
            threading.Thread(target=self._down, args=(up, c, wlock), daemon=True).start()
            threading.Thread(target=self._up, args=(c, up, wlock), daemon=True).start()

    def _down(self, up, c, wlock):
        try:
            while True:
                x = up.recv(65536)
                if not x:
                    break
                with wlock:
                    c.sendall(x)
        except OSError:
            pass
        c.close()

    def _up(self, c, up, wlock):
        v5 = True
        try:
            while True:
                head, raw, body = read_packet(c)
                kind = head[0] >> 4
                if kind == 1:  # CONNECT: remember the protocol level
                    v5 = body[2 + body[1]] == 5
                if kind == 8:  # SUBSCRIBE
                    with self.lock:
                        self.subscribes += 1
                        refuse = self.refused < REFUSE
                        self.refused += refuse
                    if refuse:
                        pid = body[:2]
                        suback = pid + (b"\x00" if v5 else b"") + b"\x80"
                        with wlock:
                            c.sendall(bytes([0x90, len(suback)]) + suback)
                        continue
                up.sendall(head + raw + body)
        except OSError:
            pass
        up.close()

    def close(self):
        self.srv.close()


def main(env):
    broker = Mosquitto(env)
    relay = RefusingRelay(broker.port)
    sim = Sim(env, facp=(1,), elc=())
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=relay.port, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 200, "life_check_s": 0}], state_dir=env.tmp))
    wait_until(lambda: "refused the subscription to cmd/+" in gw.proc.stderr_text(), 15,
               "the gateway to log the refused subscription")
    def passed_on():
        with relay.lock:
            return relay.subscribes > REFUSE
    wait_until(passed_on, 15, "the gateway to subscribe to cmd/+ again, in the same session")
    wait_until(lambda: "took the subscription to cmd/+" in gw.proc.stderr_text(), 10,
               "the gateway to log that the broker took cmd/+")
    op = Operator(broker.port, ROOT)
    reply = op.send("list", {}, timeout=15)
    if reply.get("ok") is not True:
        raise TestFailure("cmd/list: %r" % reply)
    log = gw.proc.stderr_text()
    for want, n in (("refused the subscription to cmd/+", 1),
                    ("took the subscription to cmd/+", 1), ("connected to broker", 1)):
        if log.count(want) != n:
            raise TestFailure("%r logged %d times, not %d:\n%s"
                              % (want, log.count(want), n, log[-2000:]))
    with relay.lock:
        subs, refused = relay.subscribes, relay.refused
    op.close()
    relay.close()
    print("%d SUBSCRIBEs, %d refused; cmd/list answered in the same session" % (subs, refused))


if __name__ == "__main__":
    run(main)
