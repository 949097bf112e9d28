"""Admin policies, privacyIDEA-style: no active admin policy means every admin may do
everything; once one exists, an admin may do exactly what the matching policies grant."""

from __future__ import annotations

from app.db import policy_repo
from app.db.tables import Policy
from app.errors import NotAllowed, NotFound
from app.runtime import Runtime
from app.schemas.policy import PolicyIn, PolicyOut, as_list
from app.services.audit import Caller, audited


def _grants(policy: Policy, admin: str, action: str) -> bool:
    users = as_list(policy.adminuser)
    if users and admin not in users:
        return False
    return action in {a.split("=")[0] for a in as_list(policy.action)}


async def require(rt: Runtime, caller: Caller, action: str) -> None:
    """Raise NotAllowed (403, code 303) unless the admin may do the action."""
    policies = await rt.policy_cache.get("admin", lambda: _active(rt))
    if not policies:
        return
    if not any(_grants(p, caller.name, action) for p in policies):
        raise NotAllowed(f"Admin actions are defined, but the action {action} is not allowed!")


async def _active(rt: Runtime) -> list[Policy]:
    async with rt.db.reading() as tx:
        return list(await policy_repo.active_admin_policies(tx))


async def save(rt: Runtime, name: str, form: PolicyIn, caller: Caller) -> int:
    policy = Policy(
        name=name,
        scope=form.scope,
        action=", ".join(form.actions()),
        adminuser=", ".join(form.adminusers()),
        realm=", ".join(form.realms()),
        active=form.active,
        priority=form.priority,
    )
    async with audited(rt.db, caller, "policywrite", name) as tx:
        policy_id = await policy_repo.upsert(tx, policy)
    rt.policy_cache.clear()
    return policy_id


async def listing(rt: Runtime, name: str | None = None) -> list[PolicyOut]:
    async with rt.db.reading() as tx:
        policies = await policy_repo.listing(tx, name)
    return [
        PolicyOut(
            name=p.name,
            scope=p.scope,
            action=dict.fromkeys(as_list(p.action), True),
            adminuser=as_list(p.adminuser),
            realm=as_list(p.realm),
            active=p.active,
            priority=p.priority,
        )
        for p in policies
    ]


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    async with audited(rt.db, caller, "policydelete", name) as tx:
        policy = await policy_repo.by_name(tx, name)
        if policy is None or policy.id is None:
            raise NotFound(f"The policy with name {name!r} does not exist")
        await policy_repo.delete(tx, policy)
    rt.policy_cache.clear()
    return policy.id
