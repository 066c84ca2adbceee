"""SHA-256 Merkle trees for airdrops: the contract keeps one root; each recipient proves its
``(principal, amount, category)`` leaf with the sibling hashes on the way up.

Leaves and inner nodes are hashed with different prefixes (a leaf can never pass for a node), and
each pair is hashed in sorted order, so a proof is just the list of siblings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from icto.ic.principal import Principal


def leaf(principal: Principal, amount: int, category: int) -> bytes:
    raw = principal.bytes
    data = bytes([len(raw)]) + raw + amount.to_bytes(16, "big") + category.to_bytes(2, "big")
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    low, high = (left, right) if left <= right else (right, left)
    return hashlib.sha256(b"\x01" + low + high).digest()


def verify(root: bytes, leaf_hash: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` leads from ``leaf_hash`` to ``root``."""
    current = leaf_hash
    for sibling in proof:
        if not isinstance(sibling, bytes) or len(sibling) != 32:
            return False
        current = node(current, sibling)
    return current == root


class MerkleTree:
    """A tree over leaf hashes (an odd node at a level moves up unchanged). Off-chain tooling:
    build it from the airdrop list, put ``root`` in the config, hand each recipient its
    ``proof(i)``."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        levels = [list(leaves)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            above = [node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            levels.append(above)
        self._levels = levels

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def proof(self, index: int) -> tuple[bytes, ...]:
        siblings = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                siblings.append(level[sibling])
            index //= 2
        return tuple(siblings)
