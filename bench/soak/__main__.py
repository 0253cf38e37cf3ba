"""``python -m bench.soak [--duration S] [--seed N] [--rounds R] [--report PATH]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.soak.run import Options, main

DURATION_MAX_S = 3600.0


def _arguments(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Fault-injection soak of TokenMart Core (loopback only, bounded).",
    )
    parser.add_argument(
        "--duration", type=float, default=180.0, help="seconds of load (default 180)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of choices and fault order")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="times every fault is injected (default: about one fault per 12 s, at least 1)",
    )
    parser.add_argument("--report", type=Path, default=None, help="also write a JSON report")
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="process logs (default bench/.work/soak/...)"
    )
    arguments = parser.parse_args(argv)
    if not 10.0 <= arguments.duration <= DURATION_MAX_S:
        parser.error(f"--duration must be between 10 and {DURATION_MAX_S:.0f} seconds")
    if arguments.rounds is not None and not 1 <= arguments.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    return Options(
        duration_s=arguments.duration,
        seed=arguments.seed,
        rounds=arguments.rounds,
        report=arguments.report,
        log_dir=arguments.log_dir,
    )


if __name__ == "__main__":
    sys.exit(main(_arguments()))
