#!/usr/bin/env bash
# The demo: installs what is missing, builds hallwatch, and runs the whole system on
# this machine: a mosquitto broker and an InfluxDB on loopback, the Modbus simulator
# with a fire panel (unit 1) and an emergency lighting controller (unit 2), two RTSP
# test cameras (hw-testcam, 320x180 at 10 fps to stay light), the gateway with its web
# console, and the county's view (the county mode with its page) of the demo hall and five
# emulated halls. Everything runs in the foreground until Ctrl-C; nothing is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target hallwatch hw-sim hw-testcam

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "hallwatch demo: nothing listens on port $1" >&2
	return 1
}

dir=$(mktemp -d /tmp/hallwatch-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

mqtt_port=$(free_port)
cat >"$dir/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $dir/mosquitto.log
user root
CONF
/usr/sbin/mosquitto -c "$dir/mosquitto.conf" & pids+=($!)
wait_port "$mqtt_port"

influx_enabled=false
influx_url=""
if [ -x /usr/bin/influxd ]; then
	http_port=$(free_port); rpc_port=$(free_port)
	cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$dir/influx/meta"
[data]
  dir = "$dir/influx/data"
  wal-dir = "$dir/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http_port"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
	/usr/bin/influxd -config "$dir/influxdb.conf" 2>"$dir/influxd.log" & pids+=($!)
	wait_port "$http_port"
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$http_port/ping" && break
		sleep 0.05
	done
	curl -sf -o /dev/null -XPOST "http://127.0.0.1:$http_port/query" --data-urlencode "q=CREATE DATABASE hallwatch"
	influx_enabled=true
	influx_url="http://127.0.0.1:$http_port"
fi

mkfifo "$dir/sim.in"
./build/hw-sim --port 0 --bind 127.0.0.1 --facp 1 --elc 2 --zones 8 --luminaires 16 \
	<"$dir/sim.in" >"$dir/sim.out" 2>"$dir/sim.err" & pids+=($!)
exec 9>"$dir/sim.in"
for _ in $(seq 1 200); do grep -q '^READY port=' "$dir/sim.out" && break; sleep 0.05; done
sim_port=$(sed -n 's/^READY port=//p' "$dir/sim.out")

mkfifo "$dir/cam.in"
./build/hw-testcam --port 0 --width 320 --height 180 --fps 10 --mount /cam1 --mount /cam2 \
	<"$dir/cam.in" >"$dir/cam.out" 2>"$dir/cam.err" & pids+=($!)
exec 8>"$dir/cam.in"
for _ in $(seq 1 200); do grep -q '^READY port=' "$dir/cam.out" && break; sleep 0.05; done
cam_port=$(sed -n 's/^READY port=//p' "$dir/cam.out")

# The console: a demo login whose password is made now and hashed by hallwatch passwd.
web_port=$(free_port)
web_user=demo
web_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12)
web_hash=$(printf '%s\n' "$web_password" | ./build/hallwatch passwd --stdin | sed -n 's/^password_hash = "\(.*\)";$/\1/p')
[ -n "$web_hash" ] || { echo "hallwatch demo: hallwatch passwd gave no hash" >&2; exit 1; }

cat >"$dir/hallwatch.cfg" <<CONF
# The demo's configuration; etc/hallwatch.cfg documents every setting.
site = { id = "hall-demo"; name = "Demo convenience service center"; profile_dir = "$top/etc/profiles"; };
mqtt = { enabled = true; host = "127.0.0.1"; port = $mqtt_port; heartbeat_s = 30; };
influx = { enabled = $influx_enabled; url = "${influx_url:-http://127.0.0.1:8086}"; database = "hallwatch"; };
storage = { state_dir = "$dir"; };
buses = ( { id = "tcp0"; type = "tcp"; host = "127.0.0.1"; port = $sim_port; timeout_ms = 500; } );
devices = (
  { id = "facp1"; bus = "tcp0"; unit = 1; profile = "facp-generic"; interval_ms = 1000; },
  { id = "elc1"; bus = "tcp0"; unit = 2; profile = "elc-generic"; interval_ms = 1000;
    allow_commands = [ "start_function_test" ]; }
);
alerts = { operators = [ "demo" ]; };
cameras = (
  { id = "cam1"; url = "rtsp://127.0.0.1:$cam_port/cam1"; expected_fps = 10; width = 320; height = 180;
    segment_s = 10; alert_points = [ "facp1:zone[3].fire" ]; preroll_s = 5; postroll_s = 5; },
  { id = "cam2"; url = "rtsp://127.0.0.1:$cam_port/cam2"; expected_fps = 10; width = 320; height = 180;
    segment_s = 10; }
);
http = { enabled = true; bind = "127.0.0.1"; port = $web_port;
  users = ( { name = "$web_user"; role = "admin"; password_hash = "$web_hash"; } ); };
inspections = {
  tick_s = 5;
  plans = (
    # a video patrol of both cameras every 3 minutes, at any hour (the rules ask every 2 h
    # while open: every_s = 7200; when = "open")
    { id = "video_patrol"; kind = "video_patrol"; recurrence = "every"; every_s = 180;
      when = "any"; window_s = 120; grace_s = 120; }
  );
};
CONF
./build/hallwatch check-config -c "$dir/hallwatch.cfg" >/dev/null

# The county's view (docs/county.md): the county mode on the same broker, with the demo hall
# and five emulated ones (tests/tools/hall_emulator.py), its page with the same demo login.
county_port=$(free_port)
cat >"$dir/county.cfg" <<CONF
county = {
  mqtt = { host = "127.0.0.1"; port = $mqtt_port; client_id = "hallwatch-county-demo"; };
  heartbeat_s = 30; state_dir = "$dir/county"; feed_stdout = false;
  http = { enabled = true; bind = "127.0.0.1"; port = $county_port;
    users = ( { name = "$web_user"; role = "operator"; password_hash = "$web_hash"; } ); };
  halls = ( { site = "hall-demo"; console = "http://127.0.0.1:$web_port/"; } );
};
CONF
mkfifo "$dir/emu.in"
/usr/bin/python3 tests/tools/hall_emulator.py --port "$mqtt_port" --halls 5 --heartbeat 30 \
	--inspections --patrol ok --stay <"$dir/emu.in" >"$dir/emu.out" 2>"$dir/emu.err" & pids+=($!)
exec 7>"$dir/emu.in"
./build/hallwatch county -c "$dir/county.cfg" 2>"$dir/county.log" & pids+=($!)
wait_port "$county_port"

cat <<MSG

hallwatch demo is running (folder $dir).
  broker:     127.0.0.1:$mqtt_port
  simulator:  127.0.0.1:$sim_port  (fire panel unit 1, emergency lighting unit 2)
  influxdb:   ${influx_url:-not installed}
  cameras:    rtsp://127.0.0.1:$cam_port/cam1 and /cam2 (recordings in $dir/video)
  console:    http://127.0.0.1:$web_port/   log in as "$web_user", password "$web_password"
              (Overview, Alerts, Devices, Cameras, Patrols and tests; admin role)
Watch it in another terminal:
  mosquitto_sub -h 127.0.0.1 -p $mqtt_port -v -t 'hallwatch/#'
Raise a fire alarm in zone 3 (type into this terminal is not needed; from another one):
  echo 'set 1 input 103 1' > $dir/sim.in
See the alert it raises, and acknowledge it:
  ./build/hallwatch alerts -c $dir/hallwatch.cfg
  ./build/hallwatch ack -c $dir/hallwatch.cfg facp1.zone-3.fire --user demo
Zone 3 is linked to cam1: a clip from 5 s before to 5 s after the alarm appears in
  $dir/clips (and as last_clip on hallwatch/v1/hall-demo/camera/cam1/state).
Take a snapshot of a camera, cut a clip of a recorded minute, tamper with a picture:
  ./build/hallwatch snapshot -c $dir/hallwatch.cfg cam1 /tmp/cam1.jpg --user demo
  ./build/hallwatch clip -c $dir/hallwatch.cfg cam1 \$((\$(date +%s) - 75)) \$((\$(date +%s) - 15)) /tmp/cam1.mp4 --user demo
  echo 'black /cam2' > $dir/cam.in    (then 'normal /cam2'; also freeze, blur, scene, stop, start)
A video patrol of both cameras runs every 3 minutes (health, key frame, a clip, recording
gaps, footage age; a black or stopped camera fails it and opens a ticket). Its record:
  mosquitto_sub -h 127.0.0.1 -p $mqtt_port -C 1 -t hallwatch/v1/hall-demo/patrol/video_patrol/last
  ls $dir/patrols/
Run one now (a surprise inspection), and see the tasks and open tickets:
  ./build/hallwatch patrol -c $dir/hallwatch.cfg --user demo
  mosquitto_rr -V 5 -h 127.0.0.1 -p $mqtt_port -t hallwatch/v1/hall-demo/cmd/tasks -e hallwatch/v1/hall-demo/reply/demo -m '{}'
Start a function test of the emergency lighting (allowed for elc1 in the demo):
  ./build/hallwatch command -c $dir/hallwatch.cfg elc1 start_function_test --user demo
The county's view of the demo hall and five emulated ones (tiles, live alarm feed, drill-down,
a surprise patrol, the monthly ranking), same login:
  county:     http://127.0.0.1:$county_port/
Raise a fire in an emulated hall, then clear it:
  echo 'fire hall-0003' > $dir/emu.in ;  echo 'clear hall-0003' > $dir/emu.in
Query the measurements:
  influx -host 127.0.0.1 -port ${influx_url##*:} -database hallwatch -execute 'SELECT * FROM device_point LIMIT 10'
Stop everything with Ctrl-C.

MSG
./build/hallwatch run -c "$dir/hallwatch.cfg" & pids+=($!)
wait "${pids[-1]}"
