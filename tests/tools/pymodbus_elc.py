#!/usr/bin/python3
"""Independent Modbus TCP peer serving an elc-generic emergency lighting controller beside a
facp-generic fire panel (tests/tools/README.md), on Debian's python3-pymodbus: the gateway's
test runner is checked against a Modbus stack that is not libmodbus. Run it with
/usr/bin/python3.

The controller's tests: coil 0 starts a function test, coil 1 a duration test (ignored while
one runs; every start is counted, see `starts`); controller_state b4 / b5 while it runs;
when it ends, last time (u32, high word first), result (1 passed, 2 failed when a luminaire
has a fault bit b0..b3, 3 aborted on a mains fault b0) and length are written, and each
luminaire's b6 / b7 says whether it failed. A battery that lasts less than the rated time
(`battery UNIT MINUTES`) ends the duration test early, failed, with the minutes it lasted.
"""

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

import pymodbus_facp as facp

STATE, LIFE, COUNT, FAULTY = 0, 1, 2, 3
BATT_V, BATT_CHARGE, MAINS_V, RATED = 4, 5, 7, 18
FT_TIME, FT_RESULT, FT_SECONDS = 10, 12, 13
DT_TIME, DT_RESULT, DT_MINUTES = 14, 16, 17
LUM_BASE = 100
COIL_FT, COIL_DT, COIL_STOP = 0, 1, 2
MAINS_FAULT, FT_RUNNING, DT_RUNNING = 1, 1 << 4, 1 << 5
PASSED, FAILED, ABORTED = 1, 2, 3


class Controller(ModbusSlaveContext):
    """One emergency lighting controller: the register bank and its tests."""

    def __init__(self, luminaires):
        super().__init__(
            co=ModbusSequentialDataBlock(0, [0] * facp.NB_BITS),
            di=ModbusSequentialDataBlock(0, [0] * facp.NB_BITS),
            hr=ModbusSequentialDataBlock(0, [0] * facp.NB_REGS),
            ir=ModbusSequentialDataBlock(0, [0] * facp.NB_REGS),
            zero_mode=True,
        )
        self.frozen = False
        self.silent = False
        self.running = None  # "function" | "duration"
        self.ticks_left = 0
        self.test_ticks = {"function": 3, "duration": 5}
        self.starts = {"function": 0, "duration": 0}
        self.battery_min = 0  # minutes the battery lasts on a duration test, 0: rated
        self.flat = False  # the running duration test ends with the battery flat
        for addr, value in ((COUNT, luminaires), (BATT_V, 2640), (BATT_CHARGE, 100),
                            (MAINS_V, 2210), (RATED, 90)):
            self.ir_set(addr, value)

    def ir_get(self, addr):
        return super().getValues(4, addr, 1)[0]

    def ir_set(self, addr, value):
        super().setValues(4, addr, [value & 0xFFFF])

    def bump(self):
        """No change counter on this map (pymodbus_facp.command calls it after a set)."""

    def setValues(self, fc_as_hex, address, values):
        super().setValues(fc_as_hex, address, values)
        if self.decode(fc_as_hex) == "c":
            asyncio.get_running_loop().call_soon(self.run_coils)

    def run_coils(self):
        coils = super().getValues(1, 0, 3)
        super().setValues(1, 0, [0, 0, 0])
        if coils[COIL_STOP] and self.running:
            self.finish(ABORTED)
        for coil, kind, bit in ((COIL_FT, "function", FT_RUNNING),
                                (COIL_DT, "duration", DT_RUNNING)):
            if not coils[coil]:
                continue
            self.starts[kind] += 1
            if self.running is None:
                self.running = kind
                self.ticks_left = self.test_ticks[kind]
                rated = self.ir_get(RATED)
                self.flat = kind == "duration" and 0 < self.battery_min < rated
                if self.flat:
                    self.ticks_left = max(1, self.ticks_left * self.battery_min // rated)
                self.ir_set(STATE, self.ir_get(STATE) | bit)

    def finish(self, result):
        kind = self.running
        self.running = None
        self.ticks_left = 0
        duration = kind == "duration"
        self.ir_set(STATE, self.ir_get(STATE) & ~(DT_RUNNING if duration else FT_RUNNING))
        now = int(time.time()) & 0xFFFFFFFF
        base = DT_TIME if duration else FT_TIME
        super().setValues(4, base, [now >> 16, now & 0xFFFF])
        self.ir_set(base + 2, result)
        if duration:
            rated = self.ir_get(RATED)
            self.ir_set(DT_MINUTES, 0 if result == ABORTED else
                        self.battery_min if result == FAILED and self.flat else
                        rated * 2 // 3 if result == FAILED else rated)
            self.flat = False
        else:
            self.ir_set(FT_SECONDS, 0 if result == ABORTED else 30)
        if result == ABORTED:
            return
        flag = 1 << (7 if duration else 6)
        for i in range(min(self.ir_get(COUNT), 256)):
            w = self.ir_get(LUM_BASE + i)
            self.ir_set(LUM_BASE + i, (w | flag) if w & 0x0F else (w & ~flag))

    def outcome(self):
        if self.ir_get(STATE) & MAINS_FAULT:
            return ABORTED
        if self.running == "duration" and self.flat:
            return FAILED
        lums = super().getValues(4, LUM_BASE, min(self.ir_get(COUNT), 256))
        return FAILED if any(w & 0x0F for w in lums) else PASSED

    def tick(self):
        if not self.frozen:
            self.ir_set(LIFE, self.ir_get(LIFE) + 1)
        if self.running:
            self.ticks_left -= 1
            if self.ticks_left <= 0:
                self.finish(self.outcome())


def command(units, line):
    argv = line.split()
    if argv[:1] in (["starts"], ["testlen"], ["battery"]):
        if len(argv) != 3 and not (argv[0] == "testlen" and len(argv) == 4):
            return ("error usage: starts UNIT function|duration | testlen UNIT TICKS "
                    "[function|duration] | battery UNIT MINUTES")
        try:
            unit = units.get(facp.parse_int(argv[1], 0, 255))
            if not isinstance(unit, Controller):
                return f"error unit {argv[1]} is not a controller"
            if argv[0] == "starts":
                if argv[2] not in unit.starts:
                    return "error usage: starts UNIT function|duration"
                return f"ok {unit.starts[argv[2]]}"
            if argv[0] == "battery":
                unit.battery_min = facp.parse_int(argv[2], 0, 65535)
                return "ok"
            kind = argv[3] if len(argv) == 4 else "function"
            if kind not in unit.test_ticks:
                return "error usage: testlen UNIT TICKS [function|duration]"
            unit.test_ticks[kind] = facp.parse_int(argv[2], 1, 100000)
            return "ok"
        except ValueError as exc:
            return f"error {exc}"
    return facp.command(units, line)


def read_stdin(loop, units, stop):
    for line in sys.stdin:
        future = asyncio.run_coroutine_threadsafe(run_command(units, line), loop)
        answer = future.result()
        if answer is not None:
            print(answer, flush=True)
        if line.split()[:1] == ["quit"]:
            loop.call_soon_threadsafe(stop.set)
            return


async def run_command(units, line):
    return command(units, line)


async def ticker(units, tick_s):
    while True:
        await asyncio.sleep(tick_s)
        for unit in units.values():
            unit.tick()


async def main():
    parser = argparse.ArgumentParser(description="pymodbus emergency lighting controller peer")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--elc", type=int, default=2, help="the controller's unit id")
    parser.add_argument("--facp", type=int, default=1, help="the fire panel's unit id")
    parser.add_argument("--luminaires", type=int, default=16, choices=range(1, 257),
                        metavar="1..256")
    parser.add_argument("--tick-ms", type=int, default=1000)
    args = parser.parse_args()

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    units = {args.facp: facp.Panel(8), args.elc: Controller(args.luminaires)}
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = ModbusTcpServer(facp.Units(units), ModbusSocketFramer, None,
                             (args.bind, args.port), allow_reuse_address=True,
                             ignore_missing_slaves=True)
    serving = asyncio.create_task(server.serve_forever())
    await asyncio.wait([server.serving, serving], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        try:
            serving.result()
        except OSError as exc:
            print(f"pymodbus_elc: {exc}", file=sys.stderr)
        return 1
    for _ in range(50):
        if await loop.run_in_executor(None, lambda: facp.listening_on(args.bind, args.port)):
            break
        await asyncio.sleep(0.1)
    else:
        print(f"pymodbus_elc: port {args.port} is not answering", file=sys.stderr)
        return 1
    print(f"READY port={args.port}", flush=True)
    tick = asyncio.create_task(ticker(units, args.tick_ms / 1000.0))
    threading.Thread(target=read_stdin, args=(loop, units, stop), daemon=True).start()
    await stop.wait()
    tick.cancel()
    await server.shutdown()
    serving.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
