"""Send the bundled example inquiry to a running `leadbot serve` over SMTP (the one-minute demo)."""

from __future__ import annotations

import argparse
import smtplib
import time
from email.utils import make_msgid
from pathlib import Path

EXAMPLE = Path(__file__).with_name("hot-inquiry.eml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--to", default="leads@localhost")
    parser.add_argument("file", nargs="?", type=Path, default=EXAMPLE)
    args = parser.parse_args()
    # SMTP lines end in CRLF (RFC 5321); the file on disk may have bare LF.
    raw = args.file.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    # A fresh Message-ID each run, so the demo can be repeated (the same Message-ID is one activity).
    raw = raw.replace(
        b"<demo-0001@northwind-logistics.example>", make_msgid(str(int(time.time()))).encode()
    )
    with smtplib.SMTP(args.host, args.port, timeout=30) as client:
        client.sendmail("dana.whitfield@northwind-logistics.example", [args.to], raw)
    print(
        f"sent {args.file.name} to {args.to} via {args.host}:{args.port}; watch the `leadbot serve` log"
    )


if __name__ == "__main__":
    main()
