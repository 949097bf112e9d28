"""The GSM modem path: concurrent sends through several gateways sharing one emulated modem.

    python bench/modem.py [--sends 100] [--delay 0.1] [--gateways 4]

The emulator answers each message --delay seconds after its Ctrl-Z. A modem sends one
message at a time, so the ideal run takes sends x delay; utilisation = ideal / elapsed, and
what falls short of 1 is the provider's own overhead per send. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from providers.gsm_modem import GsmModemOptions, GsmModemProvider
from tests.peers.modem_emulator import ModemEmulator


async def run(sends: int = 100, delay: float = 0.1, gateways: int = 4) -> dict[str, Any]:
    """Fire `sends` concurrent sends at an emulated modem answering after `delay` seconds."""
    async with ModemEmulator(delay=delay) as modem:
        options = GsmModemOptions(PORT=modem.path, TIMEOUT=30)
        providers = [GsmModemProvider(options) for _ in range(gateways)]
        texts = [f"Your code is {i:06d}" for i in range(sends)]
        try:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    providers[i % gateways].send(f"+4917{i:08d}", text)
                    for i, text in enumerate(texts)
                )
            )
            elapsed = time.perf_counter() - started
        finally:
            for provider in providers:
                await provider.aclose()
    return {
        "bench": "gsm_modem",
        "sends": sends,
        "delay_ms": round(delay * 1000),
        "elapsed_s": round(elapsed, 3),
        "utilisation": round(sends * delay / elapsed, 3),
        "interleaved": len(modem.interleave_errors),
        "sent_once": Counter(sent.text for sent in modem.sent) == Counter(texts),
    }


def main() -> None:
    from bench.harness import emit

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--gateways", type=int, default=4)
    args = parser.parse_args()
    emit(asyncio.run(run(args.sends, args.delay, args.gateways)))


if __name__ == "__main__":
    main()
