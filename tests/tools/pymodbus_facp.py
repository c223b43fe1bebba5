#!/usr/bin/python3
"""Independent Modbus TCP peer serving the facp-generic map (tests/tools/README.md).

Built on Debian's python3-pymodbus 3.0.0rc1, so the gateway is tested against a Modbus stack
that is not libmodbus. Run it with /usr/bin/python3. The asyncio loop owns the register banks;
a reader thread hands stdin commands to the loop and prints each answer.
"""

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
import time

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.exceptions import NoSuchSlaveException
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

NB_BITS = 16
NB_REGS = 100 + 256 + 1

SYSTEM_STATE, LIFE_CHECK, DATA_CHANGE, ZONE_COUNT = 0, 1, 2, 3
PANEL_TIME, MAINS_VOLTAGE, BATTERY_VOLTAGE, ZONE_BASE = 4, 6, 7, 100
DI_MANUAL_CALL_POINT, DI_SOUNDER_ACTIVE = 0, 1
COIL_SILENCE, COIL_RESET = 0, 1

ST_LATCHED = 0x0079  # fire, supervisory, started, feedback, delay
ST_RESET = 1 << 12
ZONE_LATCHED = 0x0079  # fire, supervisory, started, feedback, pre-alarm
RESET_TICKS = 2

# pymodbus function codes used by ModbusSlaveContext.decode(): one per table
FC = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


class Panel(ModbusSlaveContext):
    """One fire panel: the register bank plus the behaviour behind the coils."""

    def __init__(self, zones):
        super().__init__(
            co=ModbusSequentialDataBlock(0, [0] * NB_BITS),
            di=ModbusSequentialDataBlock(0, [0] * NB_BITS),
            hr=ModbusSequentialDataBlock(0, [0] * NB_REGS),
            ir=ModbusSequentialDataBlock(0, [0] * NB_REGS),
            zero_mode=True,
        )
        self.frozen = False
        self.silent = False
        self.reset_ticks = 0
        self.ir_set(ZONE_COUNT, zones)
        self.ir_set(MAINS_VOLTAGE, 2200)
        self.ir_set(BATTERY_VOLTAGE, 2700)
        self.set_time()

    def ir_get(self, addr):
        return super().getValues(4, addr, 1)[0]

    def ir_set(self, addr, value):
        super().setValues(4, addr, [value & 0xFFFF])

    def bump(self):
        self.ir_set(DATA_CHANGE, self.ir_get(DATA_CHANGE) + 1)

    def set_time(self):
        now = int(time.time()) & 0xFFFFFFFF
        super().setValues(4, PANEL_TIME, [now >> 16, now & 0xFFFF])

    def setValues(self, fc_as_hex, address, values):
        """Client writes (and `set`) land here, always on the loop.

        Coils are pulse commands: the action runs, and the coil falls back to 0, right after the
        request, so that the reply to function 05 still echoes the value written.
        """
        super().setValues(fc_as_hex, address, values)
        if self.decode(fc_as_hex) == "c":
            asyncio.get_running_loop().call_soon(self.run_coils)

    def run_coils(self):
        coils = super().getValues(1, 0, 2)
        if coils[COIL_SILENCE]:
            super().setValues(1, COIL_SILENCE, [0])
            if super().getValues(2, DI_SOUNDER_ACTIVE, 1)[0]:
                super().setValues(2, DI_SOUNDER_ACTIVE, [0])
                self.bump()
        if coils[COIL_RESET]:
            super().setValues(1, COIL_RESET, [0])
            if self.reset_ticks == 0:
                self.reset_ticks = RESET_TICKS
                self.ir_set(SYSTEM_STATE, self.ir_get(SYSTEM_STATE) | ST_RESET)
                self.bump()

    def tick(self):
        if not self.frozen:
            self.ir_set(LIFE_CHECK, self.ir_get(LIFE_CHECK) + 1)
        self.set_time()
        if self.reset_ticks > 0:
            self.reset_ticks -= 1
            if self.reset_ticks == 0:
                self.ir_set(SYSTEM_STATE, self.ir_get(SYSTEM_STATE) & ~(ST_LATCHED | ST_RESET))
                zones = super().getValues(4, ZONE_BASE, NB_REGS - ZONE_BASE)
                super().setValues(4, ZONE_BASE, [z & ~ZONE_LATCHED for z in zones])
                super().setValues(2, 0, [0, 0])
                self.bump()


class Units(ModbusServerContext):
    """Unit id -> Panel; a silent unit looks missing, so the server does not answer."""

    def __init__(self, panels):
        super().__init__(slaves=panels, single=False)

    def __getitem__(self, slave):
        panel = super().__getitem__(slave)
        if panel.silent:
            raise NoSuchSlaveException(f"slave {slave} is silent")
        return panel


def parse_int(text, low, high):
    value = int(text, 0)
    if not low <= value <= high:
        raise ValueError(f"{text} not in {low}..{high}")
    return value


def command(panels, line):
    """Runs one control command on the loop; returns the answer line."""
    argv = line.split()
    if not argv:
        return None
    try:
        if argv[0] in ("set", "get"):
            if len(argv) != (5 if argv[0] == "set" else 4):
                return "error usage: set UNIT TABLE ADDR VALUE | get UNIT TABLE ADDR"
            panel = panels.get(parse_int(argv[1], 0, 255))
            if panel is None:
                return f"error unit {argv[1]} not configured"
            if argv[2] not in FC:
                return "error table must be coil, discrete, input or holding"
            bits = argv[2] in ("coil", "discrete")
            addr = parse_int(argv[3], 0, (NB_BITS if bits else NB_REGS) - 1)
            fc = FC[argv[2]]
            if argv[0] == "get":
                return f"ok {int(ModbusSlaveContext.getValues(panel, fc, addr, 1)[0])}"
            value = parse_int(argv[4], 0, 1) if bits else parse_int(argv[4], -32768, 65535) & 0xFFFF
            old = ModbusSlaveContext.getValues(panel, fc, addr, 1)[0]
            panel.setValues(fc, addr, [value])  # coils run their action
            counter = argv[2] == "input" and addr in (LIFE_CHECK, DATA_CHANGE)
            if argv[2] != "coil" and not counter and int(old) != value:
                panel.bump()
            return "ok"
        if argv[0] in ("freeze", "unfreeze", "silent", "unsilent"):
            if len(argv) != 2:
                return f"error usage: {argv[0]} UNIT"
            panel = panels.get(parse_int(argv[1], 0, 255))
            if panel is None:
                return f"error unit {argv[1]} not configured"
            if argv[0].endswith("freeze"):
                panel.frozen = argv[0] == "freeze"
            else:
                panel.silent = argv[0] == "silent"
            return "ok"
        if argv[0] == "garbage":
            return "error garbage is not supported by this peer"
        if argv[0] == "quit":
            return "ok"
        return f"error unknown command {argv[0]}"
    except ValueError as exc:
        return f"error {exc}"


def read_stdin(loop, panels, stop):
    """Reader thread: EOF only ends the commands, not the server."""
    for line in sys.stdin:
        future = asyncio.run_coroutine_threadsafe(run_command(panels, line), loop)
        answer = future.result()
        if answer is not None:
            print(answer, flush=True)
        if line.split()[:1] == ["quit"]:
            loop.call_soon_threadsafe(stop.set)
            return


async def run_command(panels, line):
    return command(panels, line)


async def ticker(panels):
    while True:
        await asyncio.sleep(1.0)
        for panel in panels.values():
            panel.tick()


async def main():
    parser = argparse.ArgumentParser(description="pymodbus fire panel peer (facp-generic)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--zones", type=int, default=8, choices=range(1, 129), metavar="1..128")
    parser.add_argument("--unit", default="1", help="unit ids, comma separated (default 1)")
    parser.add_argument("--verbose", action="store_true", help="pymodbus debug log on stderr")
    args = parser.parse_args()

    # pymodbus logs every closed connection and every request to a missing unit as an error
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        panels = {parse_int(u, 0, 255): Panel(args.zones) for u in args.unit.split(",")}
    except ValueError as exc:
        parser.error(f"--unit: {exc}")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    server = ModbusTcpServer(
        Units(panels),
        ModbusSocketFramer,
        None,
        (args.bind, args.port),
        allow_reuse_address=True,
        ignore_missing_slaves=True,
    )
    serving = asyncio.create_task(server.serve_forever())
    await asyncio.wait([server.serving, serving], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        try:
            serving.result()
        except OSError as exc:
            print(f"pymodbus_facp: {exc}", file=sys.stderr)
        return 1
    host = "127.0.0.1" if args.bind in ("", "0.0.0.0", "127.0.0.1") else args.bind
    for _ in range(50):
        if await loop.run_in_executor(None, lambda: listening_on(host, args.port)):
            break
        await asyncio.sleep(0.1)
    else:
        print(f"pymodbus_facp: port {args.port} is not answering", file=sys.stderr)
        return 1
    print(f"READY port={args.port}", flush=True)

    tick = asyncio.create_task(ticker(panels))
    threading.Thread(target=read_stdin, args=(loop, panels, stop), daemon=True).start()
    await stop.wait()
    tick.cancel()
    await server.shutdown()
    serving.cancel()
    return 0


def listening_on(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
