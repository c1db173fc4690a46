"""Console-script entry points: relaunch the process once with glibc's huge-page malloc, then run the command.

Why: XLA on the CPU allocates every call's temporaries afresh, and for large cells they are gigabytes. Each
allocation is mmap'd, so every force call page-faults it in again 4 KiB at a time. A 960-atom SevenNet-0 force
call took ~970,000 minor page faults, about a quarter of its time (measured, `docs/benchmarks`). glibc 2.35+
can back malloc'd memory with transparent huge pages (2 MiB: ~500x fewer faults; measured 970k -> 2k per call
and 4.3 -> 3.3 s under load). It only does so when ``GLIBC_TUNABLES`` says so, and glibc reads that once, when
the process starts. Nothing inside a running process can turn it on, so the commands relaunch themselves.
Python scripts get it by starting with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python script.py``. Opt out
with ``SUPERIONIC_HUGE_PAGES=0``.

Importing this module has no side effects; only the ``conductivity()`` / ``superionic()`` entry points relaunch.
"""

from __future__ import annotations

import os
import platform
import sys

HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1"


def huge_pages_environment(environ: dict[str, str], libc: tuple[str, str], thp_mode: str | None):
    """The environment to relaunch with, or None when there is nothing to do: not glibc >= 2.35, transparent
    huge pages switched off, the user opted out, or the tunable is already set."""
    if environ.get("SUPERIONIC_HUGE_PAGES") == "0" or thp_mode is None or "[never]" in thp_mode:
        return None
    name, version = libc
    try:
        if name != "glibc" or tuple(int(part) for part in version.split(".")[:2]) < (2, 35):
            return None
    except ValueError:
        return None
    tunables = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in tunables:
        return None
    return dict(environ, GLIBC_TUNABLES=":".join(filter(None, [tunables, HUGE_PAGES_TUNABLE])))


def transparent_huge_page_mode() -> str | None:
    """The kernel's THP setting, e.g. ``"always [madvise] never"``; None where there is none to read."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as handle:
            return handle.read()
    except OSError:
        return None


def relaunch_with_huge_pages() -> None:
    if sys.platform != "linux":
        return
    env = huge_pages_environment(dict(os.environ), platform.libc_ver(), transparent_huge_page_mode())
    if env is not None:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def conductivity() -> int:
    relaunch_with_huge_pages()
    from superionic.cli.conductivity import main

    return main()


def superionic() -> int:
    relaunch_with_huge_pages()
    from superionic.cli.superionic import main

    return main()
