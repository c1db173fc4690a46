"""The console scripts relaunch once with glibc's huge-page malloc (superionic/cli/_launch.py says why)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from superionic.cli._launch import (
    HUGE_PAGES_TUNABLE,
    huge_pages_environment,
    transparent_huge_page_mode,
)

THP_MADVISE = "always [madvise] never\n"


def test_environment_adds_the_tunable_and_keeps_the_users():
    env = huge_pages_environment(
        {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, ("glibc", "2.36"), THP_MADVISE
    )
    assert env["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{HUGE_PAGES_TUNABLE}"


@pytest.mark.parametrize(
    ("environ", "libc", "thp"),
    [
        ({"GLIBC_TUNABLES": HUGE_PAGES_TUNABLE}, ("glibc", "2.36"), THP_MADVISE),  # already set: no loop
        ({"SUPERIONIC_HUGE_PAGES": "0"}, ("glibc", "2.36"), THP_MADVISE),  # opted out
        ({}, ("glibc", "2.31"), THP_MADVISE),  # glibc without the tunable
        ({}, ("", ""), THP_MADVISE),  # musl or unknown
        ({}, ("glibc", "2.36"), "always madvise [never]\n"),  # huge pages off in the kernel
        ({}, ("glibc", "2.36"), None),  # no /sys entry
    ],
)
def test_no_relaunch_when_it_cannot_help_or_is_done(environ, libc, thp):
    assert huge_pages_environment(environ, libc, thp) is None


@pytest.mark.skipif(sys.platform != "linux", reason="glibc tunables are Linux-only")
def test_a_relaunched_process_has_the_tunable_and_its_arguments():
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "SUPERIONIC_HUGE_PAGES")}
    expected = huge_pages_environment(env, platform.libc_ver(), transparent_huge_page_mode())
    code = (
        "import os, sys; from superionic.cli._launch import relaunch_with_huge_pages as r; r(); "
        "print(os.environ.get('GLIBC_TUNABLES'), sys.argv[1:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "a b", "c"], env=env, capture_output=True, text=True, check=True
    )
    if expected is None:  # this machine cannot use it: the process runs on, unchanged
        assert out.stdout.split()[0] == "None"
    else:
        assert out.stdout.strip() == f"{HUGE_PAGES_TUNABLE} ['a b', 'c']"
