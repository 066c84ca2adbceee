"""Version management: uploaded code versions, upgrades, rollbacks, auto-update, requests.

Every change of code goes through the management canister's ``install_code`` (mode upgrade),
which is atomic: if a hook traps the contract keeps its old code and state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from icto.collections import without
from icto.collections.records import evolve
from icto.collections.vector import Vector
from icto.factory.base import FactoryBase, Rollout
from icto.factory.types import (
    ContractDetached,
    ContractInfo,
    NotEligible,
    UnknownVersion,
    UpgradeFailed,
    UpgradeRecord,
    UpgradeReport,
    VersionInfo,
)
from icto.factory.versions import highest_stable, rollback_refusal, upgrade_refusal
from icto.ic.canister import Canister, module_hash, parse_semver, query, update
from icto.ic.errors import CallRejected, ErrorCode, Reject
from icto.ic.management import InstallMode
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.router import MANAGEMENT_ID
from icto.validation import text_problem

MAX_RELEASE_NOTES = 10_000
"""The longest release notes a version keeps, in characters."""
_GONE_FROM_FACTORY: Final = (ErrorCode.CANISTER_INVALID_CONTROLLER, ErrorCode.CANISTER_NOT_FOUND)
"""What the IC answers about a contract the factory no longer controls: another controller
took it, or its owner (a controller too) deleted it."""


class VersionManagement(FactoryBase):
    """The version book of a factory and the upgrades of its contracts."""

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep the state; an upgrade clears timers, so schedule the contract-requested upgrades
        still pending again (in principal order, which does not depend on hashing)."""
        super().post_upgrade(stable, arg)
        for contract in sorted(self.state.upgrade_requests.keys()):
            self.set_timer(0, "_run_requested_upgrade", contract)

    # -- versions -----------------------------------------------------------------------------

    @update
    def upload_version(
        self,
        version: str,
        code: type[Canister],
        release_notes: str = "",
        stable: bool = True,
        min_upgrade_from: str | None = None,
        accepts_rollback: bool = True,
    ) -> Ok[str] | Err[Any]:
        """Admin: register contract code under a new version. If it is stable and becomes the
        latest stable version, contracts that opted in are upgraded (``get_upgrade_report``)."""
        self._require_admin("upload a version")
        problem = self._version_problem(version, code, min_upgrade_from) or text_problem(
            "release_notes", release_notes, 0, MAX_RELEASE_NOTES, multiline=True
        )
        if problem is not None:
            return Err(NotEligible(problem))
        info = VersionInfo(
            version, code, release_notes, stable, self.time, min_upgrade_from, accepts_rollback
        )
        self.state = evolve(self.state, versions=self.state.versions.set(version, info))
        if stable:
            self._publish(version, canary=0)
        return Ok(version)

    def _version_problem(
        self, version: object, code: object, min_upgrade_from: object
    ) -> str | None:
        try:
            parsed = parse_semver(version)
            if min_upgrade_from is not None and parse_semver(min_upgrade_from) >= parsed:
                return f"min_upgrade_from {min_upgrade_from} must be below the version {version}"
        except ValueError as error:
            return str(error)
        if version in self.state.versions:
            return f"version {version} is already uploaded"
        if not (isinstance(code, type) and issubclass(code, self.CONTRACT)):
            return (
                f"code must be a version of this factory's contract (a subclass of "
                f"{self.CONTRACT.__qualname__}), got {code!r}"
            )
        if version != code.VERSION:
            return f"{code.__qualname__}.VERSION is {code.VERSION}, not {version}"
        return None

    @update
    def publish_version(self, version: str, canary: int = 0) -> Ok[UpgradeReport] | Err[Any]:
        """Admin: mark a version stable. If it is then the latest stable version, upgrade the
        contracts that opted in, one management call each; with ``canary`` = n the first n tried
        go first and the rest are skipped if any of those fails (a contract skipped without a
        try, detached or not eligible, takes no canary place). A version published once keeps
        its report: publishing it again is refused, unless its rollout did not finish (its
        message trapped): then it goes on from where its report stops, with its own canary."""
        self._require_admin("publish a version")
        info = self.state.versions.get(version)
        if info is None:
            return Err(UnknownVersion(version))
        if canary < 0:
            return Err(NotEligible(f"canary must be non-negative, got {canary}"))
        rollout = self.state.rollouts.get(version)
        if rollout is not None:
            if self.awaiting_calls():  # its message may still be running
                return Err(NotEligible(
                    f"the rollout of version {version} may be under way: try again once no "
                    "message of the factory awaits a call"
                ))  # fmt: skip
            return Ok(self._roll_out(rollout))
        if info.stable:
            return Err(NotEligible(f"version {version} is already published"))
        versions = self.state.versions.set(version, evolve(info, stable=True))
        self.state = evolve(self.state, versions=versions)
        return Ok(self._publish(version, canary))

    def _publish(self, version: str, canary: int) -> UpgradeReport:
        """A version was made stable: the latest stable set, and if it is this one, the
        contracts that opted in upgraded."""
        latest = highest_stable(self.state.versions.values())
        assert latest is not None
        self.state = evolve(self.state, latest_stable=latest)
        rollout = Rollout(version, self.time, canary)
        if latest != version:
            return self._finished(rollout)
        return self._roll_out(rollout)

    def _roll_out(self, rollout: Rollout) -> UpgradeReport:
        """Upgrade the contracts that opted in and are not in ``rollout`` yet, in order. The
        progress is recorded before each call (state before an await commits), so a trap loses
        none of it and the contract it was upgrading is settled when the rollout resumes."""
        target = self.state.versions[rollout.version]
        if rollout.trying is not None:
            info = self._settled(self.state.index.contracts[rollout.trying])
            if info.id in self.state.changing:  # the IC could not say which code runs: later
                return rollout.report()
            moved = info.version != target.version and upgrade_refusal(info.version, target)
            if moved:  # another upgrade took it to this version or past it meanwhile
                skipped = rollout.skipped.append((info.id, moved.reason))
                rollout = self._progress(evolve(rollout, skipped=skipped, trying=None))
            else:
                ran = info.version == target.version
                outcome: Ok[str] | Err[Any] = Ok(info.version) if ran else Err(UpgradeFailed(
                    "the rollout's message failed during this upgrade; the old code runs"
                ))  # fmt: skip
                rollout = self._tried(rollout, info.id, outcome)
        done = {*rollout.upgraded, *(c for c, _ in (*rollout.failed, *rollout.skipped))}
        for seq in tuple(self.state.index.auto_update):
            if self.state.index.at(seq).id in done:
                continue
            info = self._settled(self.state.index.at(seq))
            reason = None
            if rollout.halted:
                reason = "halted: a canary failed"
            elif info.detached:
                reason = "detached"
            elif (refusal := upgrade_refusal(info.version, target)) is not None:
                reason = refusal.reason
            if reason is not None:
                skipped = rollout.skipped.append((info.id, reason))
                rollout = self._progress(evolve(rollout, skipped=skipped))
                continue
            rollout = self._progress(evolve(rollout, tried=rollout.tried + 1, trying=info.id))
            rollout = self._tried(rollout, info.id, self._change_code(info, target, "auto"))
        return self._finished(rollout)

    def _tried(self, rollout: Rollout, contract: Principal, outcome: Ok[str] | Err[Any]) -> Rollout:
        """``rollout`` with the outcome of its try of ``contract`` recorded."""
        rollout = evolve(rollout, trying=None)
        if isinstance(outcome, Ok):
            rollout = evolve(rollout, upgraded=rollout.upgraded.append(contract))
        elif isinstance(outcome.error, ContractDetached):
            rollout = evolve(rollout, skipped=rollout.skipped.append((contract, "detached")))
        else:
            failed = rollout.failed.append((contract, _reason(outcome.error)))
            rollout = evolve(rollout, failed=failed, halted=rollout.tried <= rollout.canary)
        return self._progress(rollout)

    def _progress(self, rollout: Rollout) -> Rollout:
        self.state = evolve(
            self.state, rollouts=self.state.rollouts.set(rollout.version, rollout)
        )
        return rollout

    def _finished(self, rollout: Rollout) -> UpgradeReport:
        report = rollout.report(finished=True)
        state = self.state
        self.state = evolve(
            state, reports=state.reports.set(rollout.version, report),
            rollouts=without(state.rollouts, rollout.version),
        )  # fmt: skip
        return report

    @update
    def upgrade_contract(
        self, contract: Principal, to_version: str | None = None
    ) -> Ok[str] | Err[Any]:
        """Owner or admin: upgrade to ``to_version`` (default: the latest stable). Atomic on the
        IC: if a hook traps, the contract keeps its code and state and this returns ``Err``."""
        return self._move(contract, to_version, upgrade_refusal, "upgrade")

    @update
    def rollback_contract(self, contract: Principal, to_version: str) -> Ok[str] | Err[Any]:
        """Owner or admin: go back to an earlier version whose ``post_upgrade`` takes the newer
        state (refused if that version declares it cannot)."""
        return self._move(contract, to_version, rollback_refusal, "rollback")

    def _move(
        self,
        contract: Principal,
        version: str | None,
        refusal_of: Callable[[str, VersionInfo], NotEligible | None],
        kind: str,
    ) -> Ok[str] | Err[Any]:
        """Owner or admin: install ``version`` over the contract unless ``refusal_of`` says no."""
        info = self._managed_contract(contract, "roll back" if kind == "rollback" else kind)
        if isinstance(info, Err):
            return info
        info = self._settled(info)
        target = self._target(info, version)
        if isinstance(target, Err):
            return target
        refusal = refusal_of(info.version, target)
        if refusal is not None:
            return Err(refusal)
        return self._change_code(info, target, kind)

    def _target(self, info: ContractInfo, version: str | None) -> VersionInfo | Err[Any]:
        if info.detached:
            return Err(ContractDetached(info.id))
        target = self.state.versions.get(self.state.latest_stable if version is None else version)
        return Err(UnknownVersion(str(version))) if target is None else target

    @update
    def request_upgrade(self, target: str | None = None) -> Ok[str] | Err[Any]:
        """A contract asks to be upgraded (the caller is the contract, so it cannot be spoofed).
        The upgrade runs in a separate message (a timer, on the next ``ic.tick()``); then the
        factory calls the contract's ``on_upgraded(version, error)``."""
        info = self._calling_contract("request_upgrade")
        version = self._target(info, target)
        if isinstance(version, Err):
            return version
        refusal = upgrade_refusal(info.version, version)
        if refusal is not None:
            return Err(refusal)
        if info.id in self.state.upgrade_requests:
            return Err(NotEligible("an upgrade of this contract is already pending"))
        requests = self.state.upgrade_requests.set(info.id, version.version)
        self.state = evolve(self.state, upgrade_requests=requests)
        self.set_timer(0, "_run_requested_upgrade", info.id)
        return Ok(version.version)

    def _run_requested_upgrade(self, contract: Principal) -> None:
        version = self.state.upgrade_requests.get(contract)
        info = self.state.index.info(contract)
        self.state = evolve(
            self.state, upgrade_requests=self.state.upgrade_requests.delete(contract)
        )
        if version is None or info is None:
            return
        info = self._settled(info)
        error = None
        target = self._target(info, version)
        if isinstance(target, Err):
            error = _reason(target.error)
        elif (refusal := upgrade_refusal(info.version, target)) is not None:
            error = refusal.reason
        elif isinstance(outcome := self._change_code(info, target, "requested"), Err):
            error = _reason(outcome.error)
        running = self.state.index.contracts[contract].version
        try:
            self.call(contract, "on_upgraded", running, error)
        except CallRejected as rejected:
            self.log(f"on_upgraded of {contract} was rejected: {rejected.message}")

    def _change_code(
        self, info: ContractInfo, target: VersionInfo, kind: str
    ) -> Ok[str] | Err[Any]:
        """Install ``target`` over the contract (mode upgrade) and record the attempt.

        The success is recorded before the call: an install commits on the IC even if this
        message traps after it, and ``ContractInfo.version`` must say what runs. A refused
        install turns the record into the failure and puts the version back."""
        state = self.state
        current = state.index.contracts[info.id]
        history = state.history.get(info.id, Vector())
        position = len(history)
        record = UpgradeRecord(
            self.time, kind, current.version, target.version, True, self.caller, None
        )
        self.state = evolve(
            state,
            index=state.index.with_fields(info.id, version=target.version, detached=False),
            history=state.history.set(info.id, history.append(record)),
            counters=state.counters.bumped("upgrades"),
            changing=state.changing.set(info.id, (current.version, target.version, position)),
        )
        try:
            self.call(
                MANAGEMENT_ID, "install_code", info.id, target.code, None, InstallMode.UPGRADE
            )
        except CallRejected as rejected:
            detached = rejected.error_code in _GONE_FROM_FACTORY
            self._record_failure(info.id, current, position, rejected.message, detached)
            if detached:
                return Err(ContractDetached(info.id))
            return Err(UpgradeFailed(rejected.message))
        self.state = evolve(self.state, changing=self.state.changing.delete(info.id))
        return Ok(target.version)

    def _settled(self, info: ContractInfo) -> ContractInfo:
        """``info`` once any code change of the contract whose outcome was never recorded (the
        factory's message trapped after ``install_code``) is settled: the IC's module hash says
        whether the new code runs; if it does not, the change is recorded as failed."""
        change = self.state.changing.get(info.id)
        if change is None:
            return info
        from_version, to_version, position = change
        try:
            status = self.call(MANAGEMENT_ID, "canister_status", info.id)
        except CallRejected:
            return info  # cannot tell now; asked again next time
        if info.id not in self.state.changing:
            return self.state.index.contracts[info.id]  # settled meanwhile
        target = self.state.versions.get(to_version)
        if target is not None and status.module_hash == module_hash(target.code):
            self.state = evolve(self.state, changing=self.state.changing.delete(info.id))
        else:
            before = evolve(self.state.index.contracts[info.id], version=from_version)
            reason = "the factory's message failed after install_code; the old code runs"
            self._record_failure(info.id, before, position, reason, False)
        return self.state.index.contracts[info.id]

    def _record_failure(
        self, contract: Principal, before: ContractInfo, position: int, reason: str,
        detached: bool,
    ) -> None:
        """Undo the success ``_change_code`` recorded: the version and detached flag of
        ``before``, the history entry at ``position`` a failure, the count moved."""
        state = self.state
        history = state.history[contract]
        record = evolve(history[position], ok=False, reason=reason)
        index = state.index.with_fields(
            contract, version=before.version, detached=before.detached or detached
        )
        counters = state.counters.bumped("upgrades", -1).bumped("failed_upgrades")
        self.state = evolve(
            state, index=index, history=state.history.set(contract, history.set(position, record)),
            counters=counters, changing=state.changing.delete(contract),
        )

    @update
    def check_controller(self, contract: Principal) -> bool:
        """Owner or admin: ask the IC whether the factory still controls the contract and
        whether it runs one of the factory's versions, and record the answer. Returns ``True``
        if it is detached: the factory no longer controls it, or its owner (also a controller)
        installed code the factory never uploaded, whose reports (roles, visibility) the index
        cannot vouch for. Code of an uploaded version is recorded as ``ContractInfo.version``
        (an owner may install one directly)."""
        info = self._managed_contract(contract, "check")
        if isinstance(info, Err):
            raise Reject(f"UnknownContract: {contract} is not a contract of this factory")
        info = self._settled(info)
        try:
            status = self.call(MANAGEMENT_ID, "canister_status", contract)
        except CallRejected as rejected:
            if rejected.error_code not in _GONE_FROM_FACTORY:
                raise Reject(f"canister_status failed: {rejected.message}") from None
            index = self.state.index.with_fields(info.id, detached=True)
            if rejected.error_code == ErrorCode.CANISTER_NOT_FOUND:  # its owner deleted it
                index = index.with_visibility(info.id, False).with_auto_update(info.id, False)
            self._with_index(index)
            return True
        info = self.state.index.contracts[info.id]
        running = self._version_with_hash(status.module_hash, info.version)
        version = info.version if running is None else running
        self._with_index(
            self.state.index.with_fields(info.id, detached=running is None, version=version)
        )
        return running is None

    def _version_with_hash(self, hash_: bytes | None, likely: str) -> str | None:
        """The uploaded version whose code has the module hash ``hash_`` (``likely`` is tried
        first), or ``None`` if no version of this factory has it."""
        versions = self.state.versions
        candidates = [versions[likely]] if likely in versions else []
        for found in (*candidates, *versions.values()):
            if hash_ == module_hash(found.code):
                return str(found.version)
        return None

    @query
    def list_versions(self) -> tuple[VersionInfo, ...]:
        """Every uploaded version, newest first."""
        versions = self.state.versions.values()
        return tuple(sorted(versions, key=lambda v: parse_semver(v.version), reverse=True))

    @query
    def get_latest_stable_version(self) -> str:
        return self.state.latest_stable

    @query
    def get_contract_version(self, contract: Principal) -> str | None:
        info = self._visible_info(contract)
        return None if info is None else info.version

    @query
    def get_upgrade_history(self, contract: Principal) -> tuple[UpgradeRecord, ...]:
        if self._visible_info(contract) is None:
            return ()
        return tuple(self.state.history.get(contract, ()))

    @query
    def get_upgrade_report(self, version: str) -> UpgradeReport | None:
        """What publishing ``version`` did; contracts the caller may not see are left out."""
        report = self.state.reports.get(version)
        if report is None and (rollout := self.state.rollouts.get(version)) is not None:
            report = rollout.report()
        if report is None or self._is_admin(self.caller):
            return report
        index = self.state.index

        def visible(contract: Principal) -> bool:
            info = index.info(contract)
            return info is not None and self._may_see(info, self.caller)

        return evolve(
            report,
            upgraded=tuple(c for c in report.upgraded if visible(c)),
            failed=tuple(entry for entry in report.failed if visible(entry[0])),
            skipped=tuple(entry for entry in report.skipped if visible(entry[0])),
            trying=report.trying if report.trying is not None and visible(report.trying) else None,
        )



def _reason(error: object) -> str:
    for field in ("reason", "message"):
        value = getattr(error, field, None)
        if isinstance(value, str):
            return value
    return type(error).__name__


