"""A broker that hangs up on an MQTT v5 CONNECT instead of answering CONNACK "unsupported
protocol version" (RabbitMQ's MQTT plugin before 3.13 does: Debian's rabbitmq-server 3.10,
docs/brokers.md) still gets the gateway, over MQTT 3.1.1.

The broker is a real mosquitto behind a small relay that closes every connection whose
CONNECT says protocol level 5 and relays the others byte for byte: what RabbitMQ 3.10 does at
the CONNECT, without starting an Erlang node in the suite (bench/broker_cluster.py runs the
real one). Checked: the gateway's status online and device state arrive through the relay,
the log says MQTT 3.1.1, and the relay saw the v5 CONNECT it hung up on."""

import socket
import threading

from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-hangup"
ROOT = "hallwatch/v1/%s/" % SITE


class HangupRelay:
    """Listens on a free loopback port; relays MQTT 3.1.1 sessions to the broker, closes
    those that start with a v5 CONNECT."""

    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.lock = threading.Lock()
        self.levels = []  # the protocol level of every CONNECT seen
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read(s, n):
        b = b""
        while len(b) < n:
            x = s.recv(n - len(b))
            if not x:
                raise OSError("closed")
            b += x
        return b

    def _serve(self, c):
        try:
            head = self._read(c, 1)
            if head[0] >> 4 != 1:
                c.close()
                return
            rl, mult, raw = 0, 1, b""
            while True:  # the remaining length, 1..4 bytes
                d = self._read(c, 1)
                raw += d
                rl += (d[0] & 0x7F) * mult
                mult *= 128
                if not d[0] & 0x80:
                    break
            body = self._read(c, rl)
            level = body[2 + body[1]]  # after the protocol name ("MQTT")
            with self.lock:
                self.levels.append(level)
            if level == 5:
                c.close()  # no CONNACK: the hang-up
                return
            up = socket.create_connection(("127.0.0.1", self.broker_port))
            up.sendall(head + raw + body)
        except OSError:
            c.close()
            return

        def pipe(a, b):
            try:
                while True:
                    x = a.recv(65536)
                    if not x:
                        break
                    b.sendall(x)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pipe, args=(c, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, c), daemon=True).start()

    def close(self):
        self.stopping = True
        self.srv.close()


def main(env):
    broker = Mosquitto(env)
    relay = HangupRelay(broker.port)
    sim = Sim(env, facp=(1,), elc=())
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=relay.port, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 200, "life_check_s": 0}],
        extra_mqtt="reconnect_min_ms = 200; reconnect_max_ms = 1000;", state_dir=env.tmp))
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 15,
                    "status online through the relay")
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 15,
                    "facp1's state through the relay")
    log = gw.proc.stderr_text()
    if "(MQTT 3.1.1)" not in log:
        raise TestFailure("the gateway did not say it speaks 3.1.1:\n" + log[-2000:])
    with relay.lock:
        levels = list(relay.levels)
    if 5 not in levels or 4 not in levels:
        raise TestFailure("CONNECT protocol levels seen by the relay: %r" % levels)
    print("CONNECT levels through the relay: %r" % levels)
    watch.close()
    relay.close()


if __name__ == "__main__":
    run(main)
