"""The factory's indexes always agree with the contracts' truth, whatever users do.

A state machine drives the real canisters (a ``ClubFactory`` and the ``Club`` contracts it
deploys) with random deployments through the backend (random owner, initial members and
visibility), grants and revokes of ``member`` / ``moderator``, and visibility changes made by the
club (``set_public``) or through the factory (``set_contract_visibility``, by the owner or an
admin). The model is a plain dict of sets: for each club, its owner, whether it is public, and
the roles each user holds (``creator`` for the owner).

After every step, for every user, the factory's answers are the model's:

* ``get_my_contracts(user)`` asked by the user: the clubs the user holds any role in, oldest
  first, each with the user's sorted roles, and the exact total;
* the same asked by anyone else, walked page by page through ``next_offset``: only the clubs that
  viewer may see (public, or the viewer holds a role in it, or is an admin), with no total unless
  the viewer is an admin;
* ``get_contracts_by_role`` for each role, ``get_created_contracts``, ``get_contract_info`` per
  viewer, each club's ``role_counts``;
* ``get_public_contracts`` in creation order, and the stats' contract counts.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from icto import IC, Ok, Principal
from icto.factory import CREATOR, deploy_factory
from tests.factory.toys import MEMBER, MODERATOR, ClubConfig, ClubFactory

USERS = tuple(Principal.from_name(f"user-{n}") for n in range(4))
ADMIN = Principal.from_name("factory-admin")
BACKEND = Principal.from_name("backend")
STRANGER = Principal.from_name("stranger")
VIEWERS = (*USERS, STRANGER, ADMIN)
MAX_CLUBS = 8

users = st.sampled_from(USERS)
roles = st.sampled_from((MEMBER, MODERATOR))


class FactoryIndexAgainstModel(RuleBasedStateMachine):
    clubs = Bundle("clubs")

    def __init__(self) -> None:
        super().__init__()
        self.ic = IC(trace=False)
        self.factory = deploy_factory(self.ic, ClubFactory, backends=[BACKEND], caller=ADMIN)
        self.order: list[Principal] = []
        self.owner: dict[Principal, Principal] = {}
        self.public: dict[Principal, bool] = {}
        self.roles: dict[Principal, dict[Principal, set[str]]] = {}

    # -- the model's rules ----------------------------------------------------------------------

    def _holds(self, club: Principal, user: Principal) -> set[str]:
        return self.roles[club].get(user, set())

    def _visible(self, club: Principal, viewer: Principal) -> bool:
        return self.public[club] or bool(self._holds(club, viewer)) or viewer == ADMIN

    def _give(self, club: Principal, user: Principal, role: str) -> None:
        self.roles[club].setdefault(user, set()).add(role)

    def _take(self, club: Principal, user: Principal, role: str) -> None:
        held = self.roles[club].get(user, set())
        held.discard(role)
        if not held:
            self.roles[club].pop(user, None)

    # -- what users do --------------------------------------------------------------------------

    @precondition(lambda self: len(self.order) < MAX_CLUBS)
    @rule(
        target=clubs,
        owner=users,
        members=st.lists(users, max_size=3),
        is_public=st.booleans(),
    )
    def create(self, owner: Principal, members: list[Principal], is_public: bool) -> Principal:
        config = ClubConfig(
            name=f"club {len(self.order)}", members=tuple(members), is_public=is_public
        )
        result = self.factory.as_caller(BACKEND).create_contract(owner, config)
        assert isinstance(result, Ok), result
        club: Principal = result.value
        self.order.append(club)
        self.owner[club] = owner
        self.public[club] = is_public
        self.roles[club] = {}
        self._give(club, owner, CREATOR)
        for member in members:
            self._give(club, member, MEMBER)
        return club

    @rule(club=clubs, user=users, role=roles)
    def grant(self, club: Principal, user: Principal, role: str) -> None:
        self.ic.actor(club, self.owner[club]).grant(user, role)
        self._give(club, user, role)

    @rule(club=clubs, user=users, role=roles)
    def revoke(self, club: Principal, user: Principal, role: str) -> None:
        """Revoke whatever the draw says, held or not (revoking a role not held is a no-op)."""
        self.ic.actor(club, self.owner[club]).revoke(user, role)
        self._take(club, user, role)

    @rule(club=clubs, data=st.data())
    def revoke_a_held_role(self, club: Principal, data: st.DataObject) -> None:
        held = sorted(
            (user, role)
            for user, user_roles in self.roles[club].items()
            for role in user_roles
            if role != CREATOR
        )
        if not held:
            return
        user, role = data.draw(st.sampled_from(held))
        self.ic.actor(club, self.owner[club]).revoke(user, role)
        self._take(club, user, role)

    @rule(club=clubs, is_public=st.booleans())
    def set_public(self, club: Principal, is_public: bool) -> None:
        """The club changes its own visibility and tells the factory."""
        self.ic.actor(club, self.owner[club]).set_public(is_public)
        self.public[club] = is_public

    @rule(club=clubs, is_public=st.booleans(), by_admin=st.booleans())
    def set_contract_visibility(self, club: Principal, is_public: bool, by_admin: bool) -> None:
        """The owner or an admin changes the visibility through the factory."""
        caller = ADMIN if by_admin else self.owner[club]
        result = self.factory.as_caller(caller).set_contract_visibility(club, is_public)
        assert result == Ok(None)
        self.public[club] = is_public

    @rule(user=users, viewer=st.sampled_from(VIEWERS), limit=st.integers(1, 3))
    def page_through_my_contracts(self, user: Principal, viewer: Principal, limit: int) -> None:
        """Following ``next_offset`` with small pages yields the whole visible list, in order."""
        self._check_pages(user, viewer, limit)

    def _check_pages(self, user: Principal, viewer: Principal, limit: int) -> None:
        trusted = viewer in (user, ADMIN)
        theirs = [club for club in self.order if self._holds(club, user)]
        expected = [club for club in theirs if trusted or self._visible(club, viewer)]
        reads = self.factory.as_caller(viewer)
        seen: list[Principal] = []
        offset: int | None = 0
        for _ in range(MAX_CLUBS + 1):
            if offset is None:
                break
            page = reads.get_my_contracts(user, offset, limit)
            assert len(page.items) <= limit
            assert page.total == (len(theirs) if trusted else None), (user, viewer)
            seen += [entry.info.id for entry in page.items]
            offset = page.next_offset
        assert offset is None, "the pages never ended"
        assert seen == expected, (user, viewer, limit)

    # -- what the factory must answer -----------------------------------------------------------

    @invariant()
    def each_users_listings_match_the_model(self) -> None:
        for user in USERS:
            reads = self.factory.as_caller(user)
            theirs = [club for club in self.order if self._holds(club, user)]

            mine = reads.get_my_contracts(user, 0, 1000)
            assert [(entry.info.id, entry.roles) for entry in mine.items] == [
                (club, tuple(sorted(self._holds(club, user)))) for club in theirs
            ]
            assert mine.total == len(theirs) and mine.next_offset is None
            for entry in mine.items:
                assert entry.info.owner == self.owner[entry.info.id]
                assert entry.info.is_public == self.public[entry.info.id]

            for role in (MEMBER, MODERATOR, CREATOR):
                page = reads.get_contracts_by_role(user, role, 0, 1000)
                with_role = [club for club in theirs if role in self._holds(club, user)]
                assert [info.id for info in page.items] == with_role, role
                assert page.total == len(with_role)

            created = reads.get_created_contracts(user, 0, 1000)
            assert [info.id for info in created.items] == [
                club for club in self.order if self.owner[club] == user
            ]

    @invariant()
    def others_see_only_what_they_may(self) -> None:
        """Anyone's view of a user's contracts, walked in pages of two."""
        for user in USERS:
            for viewer in VIEWERS:
                if viewer != user:
                    self._check_pages(user, viewer, 2)
        for club in self.order:
            for viewer in VIEWERS:
                info = self.factory.as_caller(viewer).get_contract_info(club)
                assert (info is not None) == self._visible(club, viewer), (club, viewer)

    @invariant()
    def public_list_role_counts_and_stats_match_the_model(self) -> None:
        public = [club for club in self.order if self.public[club]]
        page = self.factory.as_caller(STRANGER).get_public_contracts(0, 1000)
        assert [info.id for info in page.items] == public
        assert page.total == len(public) and page.next_offset is None

        for club in self.order:
            info = self.factory.as_caller(ADMIN).get_contract_info(club)
            counts = Counter(
                role
                for user_roles in self.roles[club].values()
                for role in user_roles
                if role != CREATOR
            )
            assert dict(info.role_counts) == dict(counts), club
            assert self.ic.actor(club).get_contract_meta().is_public == self.public[club]

        stats = self.factory.get_stats()
        assert stats.contracts == stats.deployed == len(self.order)
        assert stats.public_contracts == len(public)
        assert stats.by_status == ((("active", len(self.order)),) if self.order else ())


FactoryIndexAgainstModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None
)
TestFactoryIndexAgainstModel = FactoryIndexAgainstModel.TestCase
