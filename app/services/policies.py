"""Admin policies, privacyIDEA-style: no active admin policy means every admin may do
everything; once one exists, an admin may do exactly what the matching policies grant.

A policy naming realms (and users) grants its actions on the tokens of those realms (and
users) only: `require` lets a request in when some policy grants the action at all, and
the service then holds each token it touches to `scope`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import policy_repo, token_repo
from app.db.tables import Policy
from app.errors import NotAllowed, NotFound
from app.runtime import Runtime
from app.schemas.policy import PolicyIn, PolicyOut, as_list
from app.security.caller import Caller
from app.services.audit import audited_write

# (realms, users) a policy is limited to; an empty set means every one.
Rule = tuple[frozenset[str], frozenset[str]]


@dataclass(frozen=True)
class Scope:
    """The tokens an action may touch: every one (rules None), or those some rule covers."""

    action: str
    rules: tuple[Rule, ...] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.rules is None

    def allows(self, realm: str, user: str) -> bool:
        if self.rules is None:
            return True
        return any(
            (not realms or realm in realms) and (not users or user in users)
            for realms, users in self.rules
        )

    def check(self, realm: str, user: str) -> None:
        """NotAllowed unless the action may touch tokens of this user in this realm."""
        if not self.allows(realm, user):
            raise NotAllowed(
                f"Admin actions are defined, but the action {self.action} is not allowed "
                f"in realm {realm[:100]!r} for user {user[:100]!r}!"
            )


def _applies(policy: Policy, admin: str, action: str) -> bool:
    users = as_list(policy.adminuser)
    if users and admin not in users:
        return False
    return action in {a.split("=")[0] for a in as_list(policy.action)}


def _key_allows(caller: Caller, action: str) -> None:
    if caller.actions is not None and action not in caller.actions:
        raise NotAllowed(f"The API key {caller.name!r} may not do the action {action}.")


async def require(rt: Runtime, caller: Caller, action: str) -> None:
    """Raise NotAllowed (403, code 303) unless the caller may do the action somewhere."""
    _key_allows(caller, action)
    policies = await _policies(rt)
    if policies and not any(_applies(p, caller.name, action) for p in policies):
        raise NotAllowed(f"Admin actions are defined, but the action {action} is not allowed!")


async def require_any(rt: Runtime, caller: Caller, actions: Iterable[str]) -> None:
    """Like `require`, satisfied by any one of `actions`."""
    refusal: NotAllowed | None = None
    for action in actions:
        try:
            await require(rt, caller, action)
            return
        except NotAllowed as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise refusal


async def scope(rt: Runtime, caller: Caller, action: str) -> Scope:
    """Which tokens the caller's policies let `action` touch."""
    granting = [p for p in await _policies(rt) if _applies(p, caller.name, action)]
    rules = [(frozenset(as_list(p.realm)), frozenset(as_list(p.user))) for p in granting]
    if not granting or any(not realms and not users for realms, users in rules):
        return Scope(action)  # no policies at all, or one without limits
    return Scope(action, tuple(rules))


async def require_for_tokens(
    rt: Runtime,
    caller: Caller,
    action: str,
    *,
    serial: str | None,
    user: str | None,
    realm: str,
) -> None:
    """NotAllowed unless `action` may touch the selected tokens (unknown serials pass:
    the service answers for those as for anyone)."""
    limits = await scope(rt, caller, action)
    if limits.unrestricted:
        return
    if serial:
        owner = await rt.db.read(lambda tx: token_repo.owner_of(tx, serial))
        if owner is not None:
            limits.check(owner[1], owner[0])
        return
    limits.check(realm, user or "")


async def _policies(rt: Runtime) -> list[Policy]:
    return await rt.policy_cache.get("admin", lambda: _active(rt))


async def _active(rt: Runtime) -> list[Policy]:
    return list(await rt.db.read(policy_repo.active_admin_policies))


async def save(rt: Runtime, name: str, form: PolicyIn, caller: Caller) -> int:
    policy = Policy(
        name=name,
        scope=form.scope,
        action=", ".join(form.actions()),
        adminuser=", ".join(form.adminusers()),
        realm=", ".join(form.realms()),
        user=", ".join(form.users()),
        active=form.active,
        priority=form.priority,
        description=form.description or "",
    )
    policy_id = await audited_write(
        rt, caller, "policywrite", name, lambda tx: policy_repo.upsert(tx, policy)
    )
    rt.policy_cache.clear()
    return policy_id


async def listing(rt: Runtime, name: str | None = None) -> list[PolicyOut]:
    policies = await rt.db.read(lambda tx: policy_repo.listing(tx, name))
    return [
        PolicyOut(
            name=p.name,
            scope=p.scope,
            action=dict.fromkeys(as_list(p.action), True),
            adminuser=as_list(p.adminuser),
            realm=as_list(p.realm),
            user=as_list(p.user),
            active=p.active,
            priority=p.priority,
            description=p.description,
        )
        for p in policies
    ]


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    def remove(tx: Session) -> int:
        policy = policy_repo.by_name(tx, name)
        if policy is None or policy.id is None:
            raise NotFound(f"The policy with name {name!r} does not exist")
        policy_repo.delete(tx, policy)
        return policy.id

    policy_id = await audited_write(rt, caller, "policydelete", name, remove)
    rt.policy_cache.clear()
    return policy_id
