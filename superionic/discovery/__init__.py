"""Candidate generation, relaxation, convex hull, oracle labelling and hand-off to conductivity screening.

Not implemented yet: no issue has filled this subpackage so far.
"""
