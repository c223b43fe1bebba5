"""Direct mode (docs/county.md, "Topology"): halls reach the county broker over TLS, one
account per hall, under etc/mosquitto/acl-county.example. The county (its own account) sees
both emulated halls; hall A, logged in with its own account, cannot publish as hall B (a
forged fire event and a forged offline status of B never reach the county), cannot command
B, while the county can."""

import json
import os
import subprocess
import threading

import paho.mqtt.client as paho

from county_util import County, Emulator, county_config
from harness import SRC, Mosquitto, TestFailure, free_port, run, wait_until

PASSWORD = "hall-Pa55-word"


def sh(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d, users):
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=hallwatch county test ca"], d)
    sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1"], d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sh(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "san.ext"], d)
    for i, u in enumerate(users):
        sh(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) + ["passwd", u, PASSWORD], d)


class AclMosquitto(Mosquitto):
    def __init__(self, env, d):
        self.env = env
        self.port = free_port()
        self.conf = os.path.join(env.tmp, "mosquitto-acl.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\n"
                    "keyfile %s/server.key\nallow_anonymous false\npassword_file %s/passwd\n"
                    "acl_file %s\npersistence false\nlog_dest file %s/mosquitto.log\nuser root\n"
                    % (self.port, d, d, d, d, os.path.join(SRC, "etc", "mosquitto",
                                                           "acl-county.example"), env.tmp))
        self.start()


def client(port, ca, user, cid):
    c = paho.Client(client_id=cid, clean_session=True)
    c.username_pw_set(user, PASSWORD)
    c.tls_set(ca_certs=ca)
    got = []
    lock = threading.Lock()
    ready = threading.Event()

    def on_message(cl, u, m):
        with lock:
            got.append((m.topic, m.payload))
    c.on_message = on_message
    c.on_connect = lambda cl, u, f, rc: ready.set() if rc == 0 else None
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    if not ready.wait(10):
        raise TestFailure("%s could not connect" % user)
    c.got = got
    return c


def publish(c, topic, payload, retain=False):
    info = c.publish(topic, json.dumps(payload), qos=1, retain=retain)
    info.wait_for_publish(10)   # the broker has handled it (PUBACK)
    if not info.is_published():
        raise TestFailure("no PUBACK for %s" % topic)


def main(env):
    d = os.path.join(env.tmp, "pki")
    os.makedirs(d)
    make_pki(d, ["hall-0001", "hall-0002", "county"])
    ca = os.path.join(d, "ca.crt")
    mq = AclMosquitto(env, d)
    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    county = County(env, county_config(
        os.path.join(env.tmp, "county.cfg"), mq.port, state, pic, halls_expected=2,
        extra_mqtt='username = "county"; password = "%s"; cafile = "%s";' % (PASSWORD, ca)), pic)
    wait_until(lambda: "connected to" in county.proc.stderr_text(), 10, "the county over TLS")
    emu = Emulator(env, mq.port, 2, extra=["--username-site", "--password", PASSWORD,
                                           "--cafile", ca])
    county.wait_picture(lambda p: p["summary"]["online"] == 2, 20, "both halls over TLS")
    sent = emu.cmd("fire hall-0001")
    county.wait_feed(lambda j: j["type"] == "fire" and j["site"] == "hall-0001"
                     and j.get("seq") == sent["seq"], 10, "hall-0001's own alarm")

    # Hall A (hall-0001's account) forges hall B's fire alarm, B's status and a command to B.
    b_cmd = client(mq.port, ca, "hall-0002", "watch-b")
    b_cmd.subscribe("hallwatch/v1/hall-0002/cmd/#", qos=1)
    spoof = client(mq.port, ca, "hall-0001", "spoofer")
    publish(spoof, "hallwatch/v1/hall-0002/events",
            {"seq": 999, "t": 1, "site": "hall-0002", "event": "raised", "id": "forged.fire",
             "priority": 1, "alert": {"id": "forged.fire", "condition": "fire", "priority": 1,
                                       "active": True}})
    publish(spoof, "hallwatch/v1/hall-0002/status", {"state": "offline"}, retain=True)
    publish(spoof, "hallwatch/v1/hall-0002/cmd/ack", {"id": "x", "request_id": "forged"})
    # Then, on the same connection, something A may publish: once the county has it, it has
    # had every earlier message of that connection that the broker let through.
    publish(spoof, "hallwatch/v1/hall-0001/events",
            {"seq": 500, "t": 2, "site": "hall-0001", "event": "raised", "id": "marker.fire",
             "priority": 1, "alert": {"id": "marker.fire", "condition": "fire", "priority": 1,
                                       "active": True}})
    county.wait_picture(lambda p: p["events"] == 2, 10, "hall-0001's marker event counted")
    assert not county.feed(lambda j: j.get("site") == "hall-0002"), county.feed(lambda j: j.get("site") == "hall-0002")
    h = county.hall("hall-0002")
    assert h["status"] == "online" and not h["fire"], h

    # Only the county commands a hall.
    boss = client(mq.port, ca, "county", "county-operator")
    publish(boss, "hallwatch/v1/hall-0002/cmd/ack", {"id": "x", "request_id": "from-county"})
    wait_until(lambda: len(b_cmd.got) >= 1, 10, "the county's command at hall-0002")
    reqs = [json.loads(p)["request_id"] for t, p in b_cmd.got]
    assert reqs == ["from-county"], reqs
    for c in (b_cmd, spoof, boss):
        c.loop_stop()
        c.disconnect()
    emu.stop()
    county.stop()


if __name__ == "__main__":
    run(main)
