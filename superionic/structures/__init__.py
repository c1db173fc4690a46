"""Structures: reading, ordering, supercells and relaxation (batched, in JAX, in :mod:`.batched_relax`)."""
