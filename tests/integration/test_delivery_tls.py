"""MQTT over TLS with username and password, against mosquitto with a test CA and a
password file made here with openssl and mosquitto_passwd:
- the right CA and password: connected, the status online seen by a TLS subscriber;
- a wrong password: refused, with a log line that says to check the credentials;
- a CA that did not sign the broker: refused, with a log line naming the TLS failure;
- the password comes from password_file, a world-readable one is warned about, and the
  password itself appears in no log line."""

import os
import ssl
import subprocess
import threading

import paho.mqtt.client as paho

from harness import (Gateway, Mosquitto, Proc, TestFailure, free_port, gateway_config, port_open,
                     run, wait_until)

SITE = "hall-tls"
ROOT = "hallwatch/v1/%s/" % SITE
PASSWORD = "s3cret-Pa55-word"


def sh(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    for ca in ("ca", "otherca"):
        sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", ca + ".key", "-out", ca + ".crt", "-subj", "/CN=hallwatch test " + ca], d)
    sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1"], d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sh(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "san.ext"], d)
    sh(["mosquitto_passwd", "-b", "-c", "passwd", "hw", PASSWORD], d)


class TlsMosquitto(Mosquitto):
    def __init__(self, env, d):
        self.env = env
        self.port = free_port()
        self.conf = os.path.join(env.tmp, "mosquitto-tls.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\n"
                    "keyfile %s/server.key\nallow_anonymous false\npassword_file %s/passwd\n"
                    "persistence false\nlog_dest file %s/mosquitto.log\nuser root\n"
                    % (self.port, d, d, d, d, env.tmp))
        self.start()


def main(env):
    d = os.path.join(env.tmp, "pki")
    os.makedirs(d)
    make_pki(d)
    broker = TlsMosquitto(env, d)
    good = os.path.join(env.tmp, "mqtt.pw")
    with open(good, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(good, 0o600)
    bad = os.path.join(env.tmp, "bad.pw")
    with open(bad, "w") as f:
        f.write("not-the-password\n")
    os.chmod(bad, 0o644)  # world-readable: warned about

    # A TLS subscriber to see the gateway's status.
    seen = {}
    lock = threading.Lock()
    c = paho.Client(client_id="hw-tls-sub")
    c.username_pw_set("hw", PASSWORD)
    c.tls_set(ca_certs=os.path.join(d, "ca.crt"), cert_reqs=ssl.CERT_REQUIRED)

    def on_msg(cl, u, m):
        with lock:
            seen[m.topic] = m.payload
    c.on_message = on_msg
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(ROOT + "#", qos=1)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()

    def gw_cfg(pwfile, ca):
        return gateway_config(SITE, mqtt_port=broker.port, state_dir=env.tmp,
                              extra_mqtt='username = "hw"; password_file = "%s"; cafile = "%s"; '
                                         'tls_version = "tlsv1.2"; reconnect_min_ms = 200; '
                                         'reconnect_max_ms = 1000;' % (pwfile, ca))

    def log_has(g, text):
        return text in g.proc.stderr_text()

    # Right CA, right password.
    g1 = Gateway(env, gw_cfg(good, os.path.join(d, "ca.crt")), name="gw-good")
    wait_until(lambda: log_has(g1, "connected to broker"), 15, "a TLS connection")

    def status():
        with lock:
            p = seen.get(ROOT + "status")
        return p and b'"online"' in p
    wait_until(status, 10, "status online over TLS")
    if log_has(g1, "readable by every user"):
        raise TestFailure("a 0600 password file was warned about")
    g1.stop()

    # Wrong password (from a world-readable file).
    g2 = Gateway(env, gw_cfg(bad, os.path.join(d, "ca.crt")), name="gw-badpw")
    wait_until(lambda: log_has(g2, "refused the connection"), 15, "the refusal of a bad password")
    for text in ("check mqtt.username", "readable by every user"):
        if not log_has(g2, text):
            raise TestFailure("no %r in:\n%s" % (text, g2.proc.stderr_text()[-2000:]))
    if log_has(g2, "connected to broker"):
        raise TestFailure("connected with a wrong password")
    g2.stop()

    # A CA that did not sign the broker's certificate.
    g3 = Gateway(env, gw_cfg(good, os.path.join(d, "otherca.crt")), name="gw-badca")
    wait_until(lambda: log_has(g3, "TLS handshake with broker"), 15, "the TLS refusal")
    if not log_has(g3, "certificate verify failed"):
        raise TestFailure("the TLS failure does not say why:\n%s" % g3.proc.stderr_text()[-2000:])
    if log_has(g3, "connected to broker"):
        raise TestFailure("connected with the wrong CA")
    g3.stop()

    for g in (g1, g2, g3):
        if PASSWORD in g.proc.stderr_text() or "not-the-password" in g.proc.stderr_text():
            raise TestFailure("a password appears in the log of %s" % g.name)
    c.loop_stop()
    c.disconnect()


if __name__ == "__main__":
    run(main)
