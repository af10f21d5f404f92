"""``python -m demo [--drive]``: start everything, print where to look, run until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from demo.stack import ROOT, Demo, Ports


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument(
        "--drive",
        action="store_true",
        help="drive a short scripted browser session so the UI has data",
    )
    parser.add_argument("--exit", action="store_true", help="stop after --drive")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".demo-data")
    parser.add_argument(
        "--no-redis", action="store_true", help="use the in-process queue instead of Redis streams"
    )
    args = parser.parse_args()
    demo = Demo(args.data_dir, Ports(), use_redis=not args.no_redis)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    demo.start()
    try:
        print(
            f"\nBacklight demo is running\n"
            f"  Backlight UI:  {demo.backlight_url}/login?token={demo.token}\n"
            f"  access token:  {demo.token}\n"
            f"  demo store:    {demo.page_url}\n"
            f"  project:       {demo.project}\n"
            f"  queue:         {demo.queue}\n"
            f"  logs:          {args.data_dir / 'logs'}\n",
            flush=True,
        )
        if args.drive:
            from demo.drive import drive

            result = drive(demo.page_url)
            print(
                f"Drove a session: {demo.backlight_url}/sessions/{result['session_id']}", flush=True
            )
            if args.exit:
                return 0
        print("Ctrl-C stops everything.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
