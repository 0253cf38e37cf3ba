"""Helpers for benchmarks: the local stack (:mod:`ops.localstack`: fresh database and roles,
dev PKI, every service started as ``python -m services.<name>`` exactly as ``make run`` does) and
a driver for wrk.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from ops.localstack import Stack, free_port, running_stack, wait_healthy

__all__ = ["Stack", "WrkResult", "free_port", "running_stack", "wait_healthy", "wrk"]


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def row(self, name: str) -> str:
        return (
            f"{name:<44} {self.requests_per_s:>9,.0f} req/s   "
            f"p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms   non-2xx {self.non_2xx}"
        )


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    headers: Mapping[str, str],
    duration_s: int = 10,
    connections: int = 32,
    threads: int = 2,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        percent: _ms(value, unit)
        for percent, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
        )
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkResult(
        requests_per_s=rate,
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )
