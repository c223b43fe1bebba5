#!/usr/bin/python3
"""hall_emulator: N halls speaking hallwatch's v1 MQTT topics (docs/mqtt.md) for the county's
tests and benchmarks (docs/county.md, "The hall emulator").

Each hall publishes `status` (retained, with a Last Will "offline"), `device/<id>/state` and
`camera/<id>/state` (retained, again every heartbeat), `alert/<id>` (retained while open),
optionally `inspection/<plan>` and `tickets` (retained), and `events` (QoS 1, numbered by `seq` per hall).
`--topic-escape percent` writes the topic levels as a hall with mqtt.topic_escape = "percent"
does: '.' as %2E, '%' as %25 (alert/facp1%2Ezone-3%2Efire).

Connections: `--mode per-hall` (default) gives every hall a connection of its own, so its Last
Will is real; `--mode shared` carries every hall on one connection except the first `--real`
halls, which keep their own (and their Last Will). All connections run in one thread on one
epoll loop (paho's non-threaded API), which holds 3,000 halls on one core.

Commands, one per line on stdin (and from `--script FILE`: JSON lines {"at": s, "cmd": "..."}):
  fire SITE [ZONE]        a fire alarm: event `raised`, alert/<id> retained, fire point true
  clear SITE              clears the hall's fire alarms (event `cleared`, alert topic removed)
  alert SITE PRIORITY     a fault alert of that priority
  events SITE|* N         N plain events (`repeat`) from one hall or from every hall
  dup SITE                sends the hall's last event again (same seq: a resend)
  patrol SITE passed|failed|missed   an inspection event
  device SITE DEV on|off  a device goes online / offline
  kill SITE               closes the hall's socket without DISCONNECT (the broker sends its Will)
  offline SITE            a clean stop (status offline, then DISCONNECT)
  revive SITE             reconnects a killed or stopped hall
  silent SITE             the hall stays connected but publishes nothing more
  stats                   prints {"stats": ...}
With `--patrol ok|refuse`, one MQTT v5 connection answers every hall's `cmd/patrol` (the
county's surprise video patrol, docs/county.md) on its response topic: `ok` accepts it and then
publishes the hall's patrol record (an `inspection` event, plan `video_patrol`); `refuse`
answers `unknown_verb` as a gateway without the verb does. Each request prints
{"patrol": SITE, "user": ...}.
  quit
Each command answers one JSON line on stdout ({"ok": ..., ...}); events it sent carry
`t_pub_us`, the wall clock of the publish in microseconds (for latency figures).
"""

import argparse
import json
import os
import selectors
import ssl
import sys
import time

import paho.mqtt.client as paho


def now_ms():
    return int(time.time() * 1000)


def escape_level(s):
    """mqtt.topic_escape = "percent" (docs/mqtt.md, "Escaped topics"): '%' as %25, '.' as %2E."""
    return s.replace("%", "%25").replace(".", "%2E")


def unescape_topic(t):
    """The v1 topic of an escaped one; a v1 topic decodes to itself (its ids never hold '%')."""
    out, i = [], 0
    while i < len(t):
        if t[i] == "%" and t[i + 1:i + 3] in ("2E", "2e", "25"):
            out.append("%" if t[i + 1:i + 3] == "25" else ".")
            i += 3
        else:
            out.append(t[i])
            i += 1
    return "".join(out)


class Hall:
    def __init__(self, emu, idx, site):
        self.emu = emu
        self.idx = idx
        self.site = site
        self.seq = 0           # events
        self.state_seq = 0     # device state messages
        self.client = None     # its own connection, or None (shared)
        self.silent = False
        self.dead = False
        self.last_event = None
        self.fires = {}        # alert id -> alert dict
        self.devs = {"facp1": True}
        for d in range(1, emu.args.devices):
            self.devs["elc%d" % d] = True
        self.cams = ["cam%d" % (c + 1) for c in range(emu.args.cameras)]
        self.started = int(time.time())
        self.next_beat = time.monotonic() + emu.args.heartbeat * (idx % 97) / 97.0
        self.events_sent = 0

    def topic(self, kind):
        if self.emu.args.topic_escape == "percent":
            kind = escape_level(kind)
        return "%s/%s/%s" % (self.emu.args.root, self.site, kind)

    def conn(self):
        return self.client or self.emu.shared

    def pub(self, kind, payload, retain=False, qos=None):
        if self.dead or self.silent:
            return
        if qos is None:
            qos = self.emu.args.qos
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload, separators=(",", ":"))
        self.conn().publish(self.topic(kind), data, qos=qos, retain=retain)
        self.emu.published += 1

    def status(self, state="online"):
        return {"state": state, "version": "0.1.0", "started": self.started,
                "delivery": {"t": now_ms()}}

    def dev_state(self, dev):
        t = now_ms()
        self.state_seq += 1
        pts = {"fire": {"v": any(a["device"] == dev for a in self.fires.values()), "q": "good", "t": t},
               "fault": {"v": False, "q": "good", "t": t}}
        online = self.devs[dev]
        return {"seq": self.state_seq, "site": self.site, "device": dev, "profile": "emulated",
                "online": online, "quality": "good" if online else "comm_lost", "frozen": False,
                "last_poll": t, "last_ok": t if online else t - 60000, "device_time": None,
                "points": pts}

    def cam_state(self, cam):
        t = now_ms()
        return {"seq": self.state_seq, "site": self.site, "camera": cam, "online": True,
                "fps": 25.0, "expected_fps": 25, "recording": True, "last_frame": t,
                "oldest_recording": t - self.emu.args.footage_days * 86400000,
                "recorded_bytes": 1 << 30, "conditions": {}}

    def publish_all(self):
        self.pub("status", self.status(), retain=True)
        self.beat_states()
        if self.emu.args.inspections:
            self.pub("inspection/fire_patrol", {
                "site": self.site, "plan": "fire_patrol", "kind": "staff_patrol",
                "targets": ["fire_patrol"], "next_due": now_ms() + 7200000, "last": None,
                "tasks": [{"task": "fire_patrol/fire_patrol/1", "target": "fire_patrol",
                           "state": "overdue" if self.idx % 10 == 0 else "scheduled",
                           "due": now_ms()}],
                "passed": 3, "failed": 0, "missed": self.idx % 2, "t": now_ms()}, retain=True)
            # every fifth hall has a camera ticket open past its deadline
            tk = [{"ticket": "camera-cam1-1", "kind": "camera", "target": "cam1",
                   "state": "open", "assignee": "", "text": "dark",
                   "opened": now_ms() - 90000000, "deadline": now_ms() - 3600000}] \
                if self.idx % 5 == 0 else []
            self.pub("tickets", {"site": self.site, "t": now_ms(), "open": len(tk),
                                 "tickets": tk, "more": 0}, retain=True)

    def beat_states(self):
        for d in self.devs:
            self.pub("device/%s/state" % d, self.dev_state(d), retain=True)
        for c in self.cams:
            self.pub("camera/%s/state" % c, self.cam_state(c), retain=True)

    def heartbeat(self):
        self.pub("status", self.status(), retain=True)
        self.beat_states()

    def event(self, body):
        self.seq += 1
        ev = {"seq": self.seq, "t": now_ms(), "site": self.site, "notify": False}
        ev.update(body)
        ev["t_pub_us"] = int(time.time() * 1e6)
        self.last_event = ev
        self.pub("events", ev, qos=1)
        self.events_sent += 1
        self.emu.events_sent += 1
        return ev

    def alert(self, aid, dev, point, cond, prio, active=True):
        t = now_ms()
        return {"id": aid, "site": self.site, "device": dev, "point": point, "condition": cond,
                "text": cond, "message": "%s: %s %s (emulated)" % (cond, dev, point),
                "priority": prio, "state": "unack", "ack_state": "unacked", "active": active,
                "latched": False, "chattering": False, "escalated": False, "raised": t,
                "cleared": None, "acked": None, "shelved": None, "suppressed": None,
                "out_of_service": False, "seq": self.seq + 1}

    def fire(self, zone=3):
        aid = "facp1.zone-%d.fire" % zone
        al = self.alert(aid, "facp1", "zone[%d].fire" % zone, "fire", 1)
        self.fires[aid] = al
        ev = self.event({"event": "raised", "notify": True, "id": aid, "priority": 1,
                         "state": "unack", "alert": al})
        self.pub("alert/" + aid, al, retain=True)
        self.pub("device/facp1/state", self.dev_state("facp1"), retain=True)
        return ev

    def clear(self):
        out = []
        for aid, al in list(self.fires.items()):
            al = dict(al, active=False, state="cleared", cleared=now_ms())
            out.append(self.event({"event": "cleared", "id": aid, "priority": 1,
                                   "state": "cleared", "alert": al}))
            self.pub("alert/" + aid, b"", retain=True)
            del self.fires[aid]
        self.pub("device/facp1/state", self.dev_state("facp1"), retain=True)
        return out


class Emulator:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.published = 0
        self.events_sent = 0
        self.shared = None
        self.connected = set()
        self.halls = [Hall(self, i, "%s%04d" % (args.prefix, i + 1)) for i in range(args.halls)]
        self.by_site = {h.site: h for h in self.halls}
        self.script = []
        if args.script:
            with open(args.script) as f:
                self.script = sorted((json.loads(l) for l in f if l.strip()), key=lambda x: x["at"])
        self.t0 = time.monotonic()

    # ---- paho's non-threaded API on one selector ----
    def _register(self, c):
        s = c.socket()
        if s is None:
            return
        try:
            self.sel.register(s, selectors.EVENT_READ, c)
        except KeyError:
            pass

    def _want_write(self, c, userdata, sock):
        try:
            self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        except (KeyError, ValueError):
            pass

    def _no_write(self, c, userdata, sock):
        try:
            self.sel.modify(sock, selectors.EVENT_READ, c)
        except (KeyError, ValueError):
            pass

    def _closed(self, c, userdata, sock):
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass

    def new_client(self, cid, hall):
        c = paho.Client(client_id=cid, clean_session=True, userdata=hall)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        if self.args.username_site and hall is not None:
            c.username_pw_set(hall.site, self.args.password)
        elif self.args.username:
            c.username_pw_set(self.args.username, self.args.password)
        if self.args.cafile:
            c.tls_set(ca_certs=self.args.cafile, cert_reqs=ssl.CERT_REQUIRED)
            c.tls_insecure_set(False)
        if hall is not None:
            c.will_set(hall.topic("status"), json.dumps(hall.status("offline")), qos=1, retain=True)
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._no_write
        c.on_socket_close = self._closed
        c.on_connect = self._on_connect
        return c

    def _on_connect(self, c, hall, flags, rc):
        if rc != 0:
            self.out({"error": "connect refused", "site": hall.site if hall else None, "rc": rc})
            return
        self.connected.add(id(c))
        if hall is not None:
            hall.publish_all()
        else:
            for h in self.halls:
                if h.client is None:
                    h.publish_all()

    # ---- cmd/patrol (--patrol) ----
    def new_responder(self):
        c = paho.Client(client_id="%spatrol-%d" % (self.args.client_prefix, os.getpid()),
                        protocol=paho.MQTTv5)
        if self.args.username:
            c.username_pw_set(self.args.username, self.args.password)
        if self.args.cafile:
            c.tls_set(ca_certs=self.args.cafile, cert_reqs=ssl.CERT_REQUIRED)
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._no_write
        c.on_socket_close = self._closed

        def on_connect(cl, u, flags, rc, props=None):
            cl.subscribe(self.args.root + "/+/cmd/patrol", qos=1)
            self.connected.add(id(cl))

        c.on_connect = on_connect
        c.on_message = self._on_patrol
        return c

    def _on_patrol(self, c, u, m):
        from paho.mqtt.packettypes import PacketTypes
        site = unescape_topic(m.topic[len(self.args.root) + 1:]).split("/", 1)[0]
        h = self.by_site.get(site)
        p = m.properties
        rt = getattr(p, "ResponseTopic", None)
        user = dict(getattr(p, "UserProperty", []) or []).get("user")
        self.out({"patrol": site, "user": user, "response_topic": rt})
        if h is None or not rt or m.retain:
            return
        if self.args.patrol == "refuse":
            reply = {"ok": False, "verb": "patrol", "error": "unknown_verb",
                     "message": "no verb \"patrol\""}
        else:
            task = "video_patrol/surprise/%d" % now_ms()
            reply = {"ok": True, "verb": "patrol", "task": task, "user": user}
        props = paho.Properties(PacketTypes.PUBLISH)
        cd = getattr(p, "CorrelationData", None)
        if cd:
            props.CorrelationData = cd
        c.publish(rt, json.dumps(reply), qos=1, properties=props)
        if reply["ok"]:
            h.event({"event": "inspection", "task": reply["task"], "plan": "video_patrol",
                     "target": "cameras", "kind": "video_patrol", "to": "passed",
                     "by": user})

    def connect(self, c):
        c.connect(self.args.host, self.args.port, keepalive=self.args.keepalive)
        self._register(c)
        if c.want_write():
            self._want_write(c, None, c.socket())

    def start(self):
        t = time.monotonic()
        clients = []
        real = len(self.halls) if self.args.mode == "per-hall" else min(self.args.real, len(self.halls))
        for h in self.halls[:real]:
            h.client = self.new_client("%s%s" % (self.args.client_prefix, h.site), h)
            clients.append(h.client)
        if real < len(self.halls):
            self.shared = self.new_client("%sshared-%d" % (self.args.client_prefix, os.getpid()), None)
            clients.append(self.shared)
        self.responder = None
        if self.args.patrol != "none":
            self.responder = self.new_responder()
            clients.append(self.responder)
        for c in clients:
            self.connect(c)
            self.poll(0)
        while len(self.connected) < len(clients):
            self.poll(0.05)
            if time.monotonic() - t > 120:
                raise SystemExit("not every hall connected")
        # Until every initial message is out.
        while any(c.want_write() for c in clients):
            self.poll(0.01)
        self.out({"ready": True, "halls": len(self.halls), "connections": len(clients),
                  "connect_s": round(time.monotonic() - t, 3), "published": self.published})

    def clients(self):
        cs = [h.client for h in self.halls if h.client is not None and not h.dead]
        if self.shared:
            cs.append(self.shared)
        if getattr(self, "responder", None):
            cs.append(self.responder)
        return cs

    def poll(self, timeout):
        for key, mask in self.sel.select(timeout):
            c = key.data
            if c == "stdin":
                self.stdin_ready()
                continue
            if mask & selectors.EVENT_READ:
                c.loop_read()
            if mask & selectors.EVENT_WRITE:
                c.loop_write()

    def out(self, obj):
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    # ---- commands ----
    def command(self, line):
        w = line.split()
        if not w:
            return
        cmd, a = w[0], w[1:]
        h = self.by_site.get(a[0]) if a else None
        try:
            if cmd == "fire":
                ev = h.fire(int(a[1]) if len(a) > 1 else 3)
                self.out({"ok": "fire", "site": h.site, "seq": ev["seq"], "t_pub_us": ev["t_pub_us"]})
            elif cmd == "clear":
                evs = h.clear()
                self.out({"ok": "clear", "site": h.site, "seqs": [e["seq"] for e in evs]})
            elif cmd == "alert":
                p = int(a[1])
                aid = "elc1.fault-%d" % (h.seq + 1)
                al = h.alert(aid, "elc1", "fault", "fault", p)
                ev = h.event({"event": "raised", "id": aid, "priority": p, "state": "unack", "alert": al})
                h.pub("alert/" + aid, al, retain=True)
                self.out({"ok": "alert", "site": h.site, "seq": ev["seq"]})
            elif cmd == "events":
                n = int(a[1])
                targets = self.halls if a[0] == "*" else [h]
                for _ in range(n):
                    for t in targets:
                        t.event({"event": "repeat", "id": "emulated.point", "priority": 4})
                    self.poll(0)
                self.out({"ok": "events", "sent": n * len(targets), "total": self.events_sent})
            elif cmd == "dup":
                ev = h.last_event
                h.pub("events", ev, qos=1)
                self.out({"ok": "dup", "site": h.site, "seq": ev["seq"]})
            elif cmd == "patrol":
                ev = h.event({"event": "inspection", "task": "fire_patrol/fire_patrol/%d" % h.seq,
                              "plan": "fire_patrol", "target": "fire_patrol", "kind": "staff_patrol",
                              "from": "due", "to": a[1], "due": now_ms(), "by": "emulator"})
                self.out({"ok": "patrol", "site": h.site, "seq": ev["seq"]})
            elif cmd == "device":
                h.devs[a[1]] = a[2] == "on"
                h.pub("device/%s/state" % a[1], h.dev_state(a[1]), retain=True)
                self.out({"ok": "device", "site": h.site})
            elif cmd == "kill":
                s = h.client.socket()
                self._closed(h.client, None, s)
                s.close()   # no DISCONNECT: the broker publishes the Will
                h.dead = True
                self.out({"ok": "kill", "site": h.site})
            elif cmd == "offline":
                h.pub("status", h.status("offline"), retain=True)
                h.client.disconnect()
                while h.client.want_write():
                    h.client.loop_write()
                h.dead = True
                self.out({"ok": "offline", "site": h.site})
            elif cmd == "revive":
                h.dead = False
                h.silent = False
                h.client = self.new_client("%s%s" % (self.args.client_prefix, h.site), h)
                self.connect(h.client)
                self.out({"ok": "revive", "site": h.site})
            elif cmd == "silent":
                h.silent = True
                self.out({"ok": "silent", "site": h.site})
            elif cmd == "stats":
                self.out({"stats": {"events_sent": self.events_sent, "published": self.published,
                                    "per_site": {x.site: x.events_sent for x in self.halls if x.events_sent}}})
            elif cmd == "quit":
                raise SystemExit(0)
            else:
                self.out({"error": "unknown command", "line": line})
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001 - a bad command line is answered, not fatal
            self.out({"error": str(e), "line": line})

    def stdin_ready(self):
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            self.sel.unregister(sys.stdin)
            self.stdin_open = False
            return
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.command(line.decode().strip())

    def run(self):
        self.buf = b""
        self.stdin_open = True
        self.sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
        self.start()
        last_misc = 0
        while True:
            self.poll(0.05)
            t = time.monotonic()
            while self.script and self.script[0]["at"] <= t - self.t0:
                self.command(self.script.pop(0)["cmd"])
            for h in self.halls:
                if t >= h.next_beat:
                    h.next_beat += self.args.heartbeat
                    h.heartbeat()
            if t - last_misc >= 1:
                last_misc = t
                for c in self.clients():
                    c.loop_misc()
            if not self.stdin_open and not self.args.stay:
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--halls", type=int, default=10)
    ap.add_argument("--prefix", default="hall-")
    ap.add_argument("--root", default="hallwatch/v1")
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--heartbeat", type=float, default=60)
    ap.add_argument("--keepalive", type=int, default=60)
    ap.add_argument("--footage-days", type=int, default=31)
    ap.add_argument("--qos", type=int, default=1)
    ap.add_argument("--mode", choices=["per-hall", "shared"], default="per-hall")
    ap.add_argument("--real", type=int, default=3, help="halls with their own connection in shared mode")
    ap.add_argument("--client-prefix", default="emu-")
    ap.add_argument("--username", help="one account for every connection")
    ap.add_argument("--username-site", action="store_true", help="each hall logs in as its site id")
    ap.add_argument("--password", default=None)
    ap.add_argument("--cafile")
    ap.add_argument("--inspections", action="store_true")
    ap.add_argument("--topic-escape", choices=["none", "percent"], default="none",
                    help="as a hall's mqtt.topic_escape: '.' in topic levels as %%2E")
    ap.add_argument("--script")
    ap.add_argument("--patrol", choices=["none", "ok", "refuse"], default="none",
                    help="answer every hall's cmd/patrol (accept, or refuse as unknown_verb)")
    ap.add_argument("--stay", action="store_true", help="keep running when stdin closes")
    Emulator(ap.parse_args()).run()


if __name__ == "__main__":
    main()
