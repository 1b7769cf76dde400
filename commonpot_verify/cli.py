"""``commonpot-verify``: check a Commonpot ledger without trusting the server that keeps it.

Exit codes: 0 everything checked out; 1 a check failed (the ledger, a checkpoint or a proof
does not add up); 2 usage or input error (bad arguments, unreadable file, malformed key or
checkpoint file); 3 network error (the server could not be reached or refused the request).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import itertools
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import rfc8785

from . import __version__
from .ledger import LedgerChecker, LedgerProblem, LedgerReport, canonical_document
from .merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from .note import Checkpoint, NoteFormatError, SignatureError, VerifierKey, open_checkpoint
from .remote import BadAnswer, NetworkError, Server, ServerRefused

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NETWORK = 0, 1, 2, 3
INCONSISTENT_HISTORY = "/problems/inconsistent-history"

EPILOG = """\
exit codes:
  0  everything checked out
  1  a check failed: the ledger, a checkpoint or a proof does not add up
  2  usage or input error: bad arguments, an unreadable file, a malformed key or checkpoint
  3  network error: the server could not be reached or refused the request

See docs/verify.md for a step-by-step guide."""


class Failed(Exception):
    """A check failed: the message says what does not add up."""


class InputError(Exception):
    """The command cannot run as asked: the message says what to fix."""


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# -- inputs ------------------------------------------------------------------------------------


def load_key(value: str) -> VerifierKey:
    """A verifier key given as the string itself or as a file containing it."""
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the key file {value}: {exc}") from None
    try:
        return VerifierKey.parse(text)
    except NoteFormatError as exc:
        raise InputError(f"the pinned key is not a valid verifier key: {exc}") from None


def load_checkpoint(path: str, key: VerifierKey) -> Checkpoint:
    try:
        note = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the checkpoint file {path}: {exc.strerror}") from None
    try:
        return open_checkpoint(note, key)
    except NoteFormatError as exc:
        raise InputError(f"{path} is not a well-formed signed checkpoint: {exc}") from None
    except SignatureError as exc:
        raise Failed(f"the checkpoint in {path} cannot be trusted: {exc}") from None


def pot_slug(args: argparse.Namespace, checkpoint: Checkpoint | None) -> str | None:
    named = checkpoint.pot if checkpoint else None
    if args.pot and named and args.pot != named:
        raise InputError(f"--pot {args.pot} does not match the checkpoint, which is for {named}")
    return args.pot or named


def export_records(path: str) -> Iterator[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    raise InputError(f"line {number} of {path} is not JSON") from None
    except OSError as exc:
        raise InputError(f"cannot read the export {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


# -- the ledger --------------------------------------------------------------------------------


def check_ledger(
    args: argparse.Namespace, slug: str | None, root_sizes: Sequence[int] = ()
) -> LedgerReport:
    """Re-check every entry from the export or the server (see commonpot_verify.ledger)."""
    if args.export:
        records = export_records(args.export)
        first = next(records, None)
        if slug is None:  # the export's own records name their pot
            slug = first.get("pot") if isinstance(first, dict) else None
            if not isinstance(slug, str):
                raise InputError("the export does not say which pot it is; give --pot")
        checker = LedgerChecker(slug, root_sizes=root_sizes)
        for record in itertools.chain([first] if first is not None else [], records):
            checker.add(record)
        return checker.finish()
    if slug is None:
        raise InputError("give --pot SLUG (or a checkpoint, which names its pot)")
    server = Server(args.server)
    published = server.pot(slug)
    try:
        head_seq, head_hash = int(published["head"]["seq"]), str(published["head"]["hash"])
        currency = str(published["currency"])
        balances = {k: int(v["amount"]) for k, v in published["balances"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadAnswer("the server's description of the pot is malformed") from None
    # Stop at the head the server published: entries appended meanwhile are not covered.
    checker = LedgerChecker(slug, currency=currency, root_sizes=root_sizes, stop_after=head_seq)
    if head_seq:
        for record in server.entries(slug):
            checker.add(record)
            if checker.done:
                break
    report = checker.finish()
    if report.entries != head_seq or report.last_hash != head_hash:
        raise Failed(
            f"the server says the ledger has {head_seq} entries ending in {head_hash}, but its "
            f"entries end at #{report.entries} with {report.last_hash}"
        )
    for account in sorted(set(balances) | set(report.balances)):
        if balances.get(account, 0) != report.balances.get(account, 0):
            raise Failed(
                f"the server publishes a balance of {balances.get(account, 0)} for {account}, "
                f"but its entries add up to {report.balances.get(account, 0)}"
            )
    return report


def describe_ledger(args: argparse.Namespace, report: LedgerReport) -> None:
    print(f"OK: pot {report.pot}: {report.entries} entries checked.")
    print("  Every entry's hash matches its contents and it links to the entry before it.")
    print(
        f"  Every entry's postings add up to zero in {report.currency or 'one currency'}, and "
        "available and committed money never went below zero."
    )
    if args.server:
        print("  The final balances and the chain head match what the server publishes.")
    print(f"  Merkle root of all {report.entries} entries: {_b64(report.root)}")


def root_at(report: LedgerReport, checkpoint: Checkpoint, where: str) -> bytes:
    if report.entries < checkpoint.tree_size:
        raise Failed(
            f"{where} has only {report.entries} entries, but the checkpoint covers "
            f"{checkpoint.tree_size}: entries were removed, or {where} is older than the "
            "checkpoint"
        )
    return report.roots[checkpoint.tree_size]


# -- commands ----------------------------------------------------------------------------------


def cmd_ledger(args: argparse.Namespace) -> None:
    if args.checkpoint or args.key:
        if not (args.checkpoint and args.key):
            raise InputError("--checkpoint and --key go together")
        cmd_checkpoint(args)
        return
    report = check_ledger(args, args.pot)
    describe_ledger(args, report)


def cmd_checkpoint(args: argparse.Namespace) -> None:
    key = load_key(args.key)
    checkpoint = load_checkpoint(args.checkpoint, key)
    print(f"The checkpoint is validly signed by {key.name} ({checkpoint.describe()}).")
    report = check_ledger(args, pot_slug(args, checkpoint), [checkpoint.tree_size])
    where = "the export" if args.export else "the server's ledger"
    if root_at(report, checkpoint, where) != checkpoint.root_hash:
        raise Failed(
            f"the first {checkpoint.tree_size} entries of {where} do not give the root the "
            "checkpoint signed: history was rewritten after the checkpoint was signed (or this "
            "is not the ledger it signs)"
        )
    describe_ledger(args, report)
    print(
        f"  Its first {checkpoint.tree_size} entries give exactly the root the checkpoint signed."
    )


def cmd_consistency(args: argparse.Namespace) -> None:
    key = load_key(args.key)
    old = load_checkpoint(args.checkpoint, key)
    slug = pot_slug(args, old)
    print(f"Your saved checkpoint is validly signed by {key.name} ({old.describe()}).")
    if args.export:
        report = check_ledger(args, slug, [old.tree_size])
        if root_at(report, old, "the export") != old.root_hash:
            raise Failed(
                f"HISTORY REWRITTEN: the export's first {old.tree_size} entries are not the "
                "ones your saved checkpoint signed. Keep the checkpoint: it is your evidence."
            )
        describe_ledger(args, report)
        print(f"  Its first {old.tree_size} entries are exactly those of your saved checkpoint.")
        return
    if slug is None:
        raise InputError("give --pot SLUG: the checkpoint's origin does not name a pot")
    server = Server(args.server)
    note = server.checkpoint(slug)
    try:
        new = open_checkpoint(note, key)
    except (NoteFormatError, SignatureError) as exc:
        raise Failed(f"the server's current checkpoint cannot be trusted: {exc}") from None
    if new.tree_size < old.tree_size:
        raise Failed(
            f"HISTORY REWRITTEN: the server's ledger now has {new.tree_size} entries, fewer than "
            f"the {old.tree_size} your saved checkpoint covers. Keep it: it is your evidence."
        )
    if old.tree_size and new.tree_size > old.tree_size:
        answer = server.consistency(slug, old.tree_size, new.tree_size)
        proof = decode_hashes(answer.get("proof"), "consistency proof")
    else:
        proof = []
    try:
        if old.tree_size:
            verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
    except ProofError as exc:
        raise Failed(
            f"HISTORY REWRITTEN: the server's current ledger ({new.describe()}) does not extend "
            f"your saved checkpoint ({old.describe()}); entries up to #{old.tree_size} were "
            f"changed. Keep your saved checkpoint: it is your evidence. ({exc})"
        ) from None
    if args.save:
        try:
            Path(args.save).write_bytes(note)
        except OSError as exc:
            raise InputError(f"cannot save the new checkpoint to {args.save}: {exc}") from None
    print(
        f"OK: the ledger now has {new.tree_size} entries (checkpoint {new.describe()}), and its "
        f"first {old.tree_size} are exactly those of your saved checkpoint: nothing was changed "
        "or removed, entries were only added."
    )
    if not old.tree_size:
        print("  (Your saved checkpoint is of the empty ledger, which every ledger extends.)")
    if args.save:
        print(f"  Saved the new checkpoint to {args.save}: use it next time.")


def cmd_inclusion(args: argparse.Namespace) -> None:
    key = load_key(args.key)
    checkpoint = load_checkpoint(args.checkpoint, key)
    slug = pot_slug(args, checkpoint)
    if slug is None:
        raise InputError("give --pot SLUG: the checkpoint's origin does not name a pot")
    if args.seq > checkpoint.tree_size:
        raise InputError(
            f"entry #{args.seq} is newer than your checkpoint, which covers "
            f"{checkpoint.tree_size} entries: download a newer checkpoint"
        )
    server = Server(args.server)
    record = server.entry(slug, args.seq)
    try:
        document = canonical_document(record, slug)
        canonical = rfc8785.dumps(document)
    except (LedgerProblem, rfc8785.CanonicalizationError) as exc:
        raise Failed(f"the server's entry #{args.seq} is malformed: {exc}") from None
    if document["seq"] != args.seq or record.get("hash") != hashlib.sha256(canonical).hexdigest():
        raise Failed(f"the server's entry #{args.seq} does not match its own hash")
    answer = server.inclusion(slug, args.seq, checkpoint.tree_size)
    proof = decode_hashes(answer.get("proof"), "inclusion proof")
    try:
        verify_inclusion(
            leaf_hash(canonical), args.seq - 1, checkpoint.tree_size, proof, checkpoint.root_hash
        )
    except ProofError as exc:
        raise Failed(
            f"entry #{args.seq} as the server shows it is NOT in the ledger your checkpoint "
            f"signs ({checkpoint.describe()}): {exc}"
        ) from None
    amounts = ", ".join(f"{p['account']} {p['amount']:+d}" for p in document["postings"])
    print(
        f"OK: entry #{args.seq} is in the ledger your checkpoint signs ({checkpoint.describe()})."
    )
    print(f"  {document['time']} {document['kind']}: {document['memo']}")
    print(f"  postings (minor units of {document['postings'][0]['currency']}): {amounts}")


def decode_hashes(value: object, what: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadAnswer(f"the server's {what} is not a list of base64 hashes")
    try:
        return [base64.b64decode(item, validate=True) for item in value]
    except (binascii.Error, ValueError):
        raise BadAnswer(f"the server's {what} is not valid base64") from None


# -- arguments ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="commonpot-verify",
        description="Check a Commonpot ledger yourself, trusting nothing but the maths.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, *, export: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_, description=help_, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        source = sub.add_mutually_exclusive_group(required=True)
        if export:
            source.add_argument("--export", metavar="FILE", help="a JSONL export of the pot")
        source.add_argument("--server", metavar="URL", help="e.g. https://pot.example.org")
        sub.add_argument("--pot", metavar="SLUG", help="the pot (default: from the checkpoint)")
        return sub

    ledger = command("ledger", "re-check every entry: hashes, chain, balances, Merkle root")
    ledger.add_argument("--checkpoint", metavar="FILE", help="also check this checkpoint")
    ledger.add_argument("--key", metavar="KEY", help="the pinned verifier key (or a file)")
    ledger.set_defaults(run=cmd_ledger)

    for name, help_, run in (
        ("checkpoint", "check a checkpoint's signature and its root against the entries",
         cmd_checkpoint),
        ("consistency", "check the ledger still extends a checkpoint you saved earlier",
         cmd_consistency),
        ("inclusion", "check one entry is in the ledger a checkpoint signs", cmd_inclusion),
    ):  # fmt: skip
        sub = command(name, help_, export=name != "inclusion")
        sub.add_argument("--checkpoint", metavar="FILE", required=True, help="a checkpoint file")
        sub.add_argument("--key", metavar="KEY", required=True, help="the pinned key, or its file")
        sub.set_defaults(run=run)
        if name == "consistency":
            sub.add_argument("--save", metavar="FILE", help="save the server's new checkpoint")
        if name == "inclusion":
            sub.add_argument("--seq", type=int, required=True, help="the entry's number")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "server", None):
            try:
                Server(args.server)  # refuse a malformed address before doing anything
            except ValueError as exc:
                raise InputError(str(exc)) from None
        if getattr(args, "seq", 1) < 1:
            raise InputError("--seq must be 1 or more")
        args.run(args)
    except (Failed, LedgerProblem, BadAnswer) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ServerRefused as exc:
        print(f"{'FAILED' if exc.problem_type == INCONSISTENT_HISTORY else 'ERROR'}: {exc}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED if exc.problem_type == INCONSISTENT_HISTORY else EXIT_NETWORK
    except NetworkError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    except InputError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
