"""Thin command-line front ends: ``conductivity`` and ``superionic``.

Each ``main(argv=None)`` is callable in-process (tests do that) and returns the process exit status.
"""
