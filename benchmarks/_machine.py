"""The machine line every benchmark prints, so a figure always travels with what it was measured on."""

from __future__ import annotations

import datetime
import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    return (
        f"{datetime.date.today().isoformat()}  nproc={os.cpu_count()}  CPU: {cpu_model()}  "
        f"Python {platform.python_version()}"
    )
