"""The one error type of the structures layer (a ``ValueError``: bad input, said in one line)."""

from __future__ import annotations


class StructureError(ValueError):
    """A structure that cannot be used as given: unreadable file, overlapping atoms, unknown charges, an
    ordering or supercell that cannot hold the composition. The message says what is wrong and what to do."""
