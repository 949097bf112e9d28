"""Admin policies, privacyIDEA-style: no active admin policy means every admin may do
everything; once one exists, an admin may do exactly what the matching policies grant."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db import policy_repo
from app.db.tables import Policy
from app.errors import NotAllowed, NotFound
from app.runtime import Runtime
from app.schemas.policy import PolicyIn, PolicyOut, as_list
from app.security.caller import Caller
from app.services.audit import audited_write


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
    return list(await rt.db.read(policy_repo.active_admin_policies))


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
            active=p.active,
            priority=p.priority,
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
