"""People: users, their API tokens, and their memberships of pots with a role in each.

Framework-free. Passwords are hashed with argon2 (:mod:`ledger.people.passwords`); API tokens
and invitation tokens are random and stored only as SHA-256 digests (:mod:`ledger.people.secrets`).
"""
