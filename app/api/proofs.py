"""Merkle proofs, signed checkpoints and the signing key: what an independent verifier needs.

Every Merkle hash (leaf hashes, proof elements, roots) is standard base64 with padding, as in
checkpoints and the RFC 9162 / transparency-dev test vectors. Entry hashes (the hash chain)
stay lowercase hex, as everywhere else in the API. docs/verify.md describes the endpoints.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from app.extensions import database
from app.signing import log_origin, signer
from ledger import checkpoints, proofs
from ledger import pots as ledger_pots
from ledger.errors import LedgerError
from ledger.models import MAX_SEQ

blp = Blueprint(
    "proofs", __name__, description="Merkle proofs, signed checkpoints and the signing key"
)
log = logging.getLogger(__name__)

_DIGITS = re.compile(r"[0-9]{1,19}")


class Count(fields.Integer):
    """A non-negative integer written in plain ASCII digits.

    marshmallow's Integer also takes " 7", "+5", "1_000" and non-ASCII digits; a proof request
    names a tree size, and anything but digits is more likely a mistake than a number.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise ValidationError("Not a valid non-negative integer (digits 0-9 only).")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class InclusionQuery(Schema):
    seq = Count(required=True, validate=validate.Range(min=1, max=MAX_SEQ))
    tree_size = Count(
        validate=validate.Range(min=1, max=MAX_SEQ),
        metadata={"description": "Size of the tree to prove against (default: all entries)"},
    )


class ConsistencyQuery(Schema):
    old_size = Count(data_key="from", required=True, validate=validate.Range(min=0, max=MAX_SEQ))
    new_size = Count(
        data_key="to",
        validate=validate.Range(min=0, max=MAX_SEQ),
        metadata={"description": "Size of the newer tree (default: all entries)"},
    )


class CheckpointQuery(Schema):
    format = fields.String(load_default="text", validate=validate.OneOf(["text", "json"]))


class InclusionProofSchema(Schema):
    seq = fields.Integer(required=True)
    leaf_index = fields.Integer(required=True, metadata={"description": "seq - 1"})
    tree_size = fields.Integer(required=True)
    entry_hash = fields.String(required=True, metadata={"description": "Hex SHA-256 (chain)"})
    leaf_hash = fields.String(required=True, metadata={"description": "Base64 Merkle leaf hash"})
    proof = fields.List(fields.String(), required=True, metadata={"description": "Base64"})
    root = fields.String(required=True, metadata={"description": "Base64 root (unsigned)"})


class ConsistencyProofSchema(Schema):
    old_size = fields.Integer(data_key="from", required=True)
    new_size = fields.Integer(data_key="to", required=True)
    proof = fields.List(fields.String(), required=True, metadata={"description": "Base64"})
    old_root = fields.String(required=True)
    new_root = fields.String(required=True)


class CheckpointSchema(Schema):
    origin = fields.String(required=True)
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata={"description": "Base64"})
    time = fields.String(required=True, metadata={"description": "When it was signed"})
    key_name = fields.String(required=True)
    key_id = fields.String(required=True, metadata={"description": "Hex, 4 bytes"})
    signature = fields.String(required=True, metadata={"description": "Base64(key id || sig)"})
    note = fields.String(required=True, metadata={"description": "The signed note (text)"})


class KeySchema(Schema):
    pot = fields.String(required=True)
    name = fields.String(required=True)
    algorithm = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "Base64, 32 bytes"})
    key_id = fields.String(required=True)
    verifier_key = fields.String(required=True, metadata={"description": "C2SP verifier key"})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema), required=True)


@blp.route("/pots/<slug>/proofs/inclusion")
class Inclusion(MethodView):
    @blp.arguments(InclusionQuery, location="query", as_kwargs=True)
    @blp.response(200, InclusionProofSchema)
    def get(self, slug: str, seq: int, tree_size: int | None = None) -> dict[str, Any]:
        """RFC 9162 inclusion proof of entry `seq` in the tree of the first `tree_size` entries."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            proof = proofs.inclusion(session, pot, seq, tree_size)
        return {
            "seq": proof.seq,
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
            "entry_hash": proof.entry_hash,
            "leaf_hash": _b64(proof.leaf_hash),
            "proof": [_b64(p) for p in proof.proof],
            "root": _b64(proof.root),
        }


@blp.route("/pots/<slug>/proofs/consistency")
class Consistency(MethodView):
    @blp.arguments(ConsistencyQuery, location="query", as_kwargs=True)
    @blp.response(200, ConsistencyProofSchema)
    def get(self, slug: str, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """RFC 9162 consistency proof that the tree of `to` entries extends that of `from`."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            proof = proofs.consistency(session, pot, old_size, new_size)
        return {
            "old_size": proof.old_size,
            "new_size": proof.new_size,
            "proof": [_b64(p) for p in proof.proof],
            "old_root": _b64(proof.old_root),
            "new_root": _b64(proof.new_root),
        }


def checkpoint_for(slug: str) -> checkpoints.SignedCheckpoint:
    try:
        return checkpoints.current_checkpoint(database(), slug, signer(), log_origin())
    except checkpoints.InconsistentHistory as exc:
        log.error("checkpoint refused: %s", exc.detail)
        raise


@blp.route("/pots/<slug>/checkpoint")
class CurrentCheckpoint(MethodView):
    @blp.arguments(CheckpointQuery, location="query", as_kwargs=True)
    @blp.response(200, CheckpointSchema)
    # Both media types under one 200; an alt_response without a schema would hide text/plain.
    @blp.alt_response(
        200,
        schema={"type": "string"},
        content_type="text/plain",
        description="The signed note as text (default), or its fields as JSON (?format=json)",
    )
    def get(self, slug: str, format: str) -> Any:
        """A signed checkpoint (C2SP tlog-checkpoint) of the pot's whole ledger.

        Plain text by default (save it as it is); `?format=json` gives its fields.
        """
        signed = checkpoint_for(slug)
        if format == "text":
            response = Response(signed.note, mimetype="text/plain")
            response.headers["Content-Disposition"] = (
                f'inline; filename="{slug}-{signed.tree_size}.checkpoint"'
            )
            response.headers["Cache-Control"] = "no-cache"
            return response
        return {
            "origin": signed.origin,
            "tree_size": signed.tree_size,
            "root_hash": _b64(signed.root_hash),
            "time": signed.issued_at,
            "key_name": signed.key_name,
            "key_id": signed.key_id.hex(),
            "signature": signed.signature,
            "note": signed.note,
        }


@blp.route("/keys")
class Keys(MethodView):
    @blp.response(200, KeyListSchema)
    def get(self) -> dict[str, Any]:
        """The public key that signs checkpoints, under each pot's key name.

        Pin a pot's `verifier_key` (ideally obtained through a second channel) and give it to
        `commonpot-verify`.
        """
        key, prefix = signer(), log_origin()
        with database().read() as session:
            slugs = [pot.slug for pot in ledger_pots.list_pots(session)]
        items = []
        for slug in slugs:
            name = checkpoints.pot_origin(prefix, slug)
            items.append(
                {
                    "pot": slug,
                    "name": name,
                    "algorithm": "Ed25519",
                    "public_key": _b64(key.public_key),
                    "key_id": key.key_id(name).hex(),
                    "verifier_key": key.verifier_key(name),
                }
            )
        return {"items": items}


@blp.app_template_global("pot_checkpoint")
def pot_checkpoint(slug: str) -> checkpoints.SignedCheckpoint | None:
    """For the public pages: the pot's current checkpoint, or None if it cannot be signed."""
    try:
        return checkpoint_for(slug)
    except LedgerError:
        return None
