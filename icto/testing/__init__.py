"""Testing dApps on icto with pytest and Hypothesis.

Installing icto registers the pytest plugin ``icto.testing.plugin`` (fixtures ``ic``,
``principal``, ``icto_system``, ``funded_user``; marker ``icto_shared_state``).
``assert_rejected`` checks that a block ends in a ``CallRejected``; ``icto.testing.strategies``
holds Hypothesis strategies for principals, accounts, amounts and platform configs.
"""

from icto.testing.plugin import FUNDED_APPROVAL, FUNDED_ICP, FUNDED_USER, SHARED_STATE_MARKER
from icto.testing.rejections import Rejection, assert_rejected

__all__ = [
    "FUNDED_APPROVAL",
    "FUNDED_ICP",
    "FUNDED_USER",
    "SHARED_STATE_MARKER",
    "Rejection",
    "assert_rejected",
]
