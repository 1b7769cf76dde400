"""commonpot-verify: an independent verifier for Commonpot ledgers.

It imports only the standard library, ``rfc8785`` and ``cryptography``: nothing from the service
it checks (tests/test_verifier.py enforces this). Run ``commonpot-verify --help``, or read
docs/verify.md.
"""

__version__ = "1.0"
