"""Participatory-budgeting rounds, stored: a budget reserved in the pot, projects proposed and
reviewed, approval ballots (or co-funding pledges), results counted once voting closes, and
winners funded as proposals in one ledger step.

The decisions themselves (phases, ballot checks, counting, co-funding) are the pure functions
of :mod:`ledger.pb`; this package stores rounds and moves their money. ``services`` holds what
people do, ``settlement`` what the clock does (counting and funding), ``reading`` how a round
is shown. ``docs/participatory-budgeting.md`` explains rounds to members and operators.
"""
