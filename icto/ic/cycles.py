"""The cycles cost table of a 13-node application subnet (IC developer docs, "Cycles costs").

1T cycles = 1 XDR. Queries are free. Charges here are per message, not per instruction: instruction
counts and payload sizes are not modelled.
"""

from typing import Final

CANISTER_CREATION: Final = 500_000_000_000
UPDATE_MESSAGE: Final = 5_000_000
INTER_CANISTER_CALL: Final = 260_000
INGRESS_MESSAGE: Final = 1_200_000

MAX_CYCLES: Final = 2**128 - 1
"""Cycle amounts and balances are u128 on the IC: a larger amount is refused where cycles enter
(top-ups, new canisters, cycles attached to a call), and a balance that would grow past it
saturates here."""

DEFAULT_CANISTER_CYCLES: Final = 100_000_000_000_000
"""What ``ic.create_canister`` gives a canister (like PocketIC's provisional top-up)."""
