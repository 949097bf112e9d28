"""A hash stored with older argon2 parameters still verifies, and the next right PIN or
password stores it again under today's: its verification then costs what the dummy hash
of an unknown user costs, so timing no longer tells that the user exists."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select, update

from app.db.tables import Admin, Token
from app.security.passwords import MEMORY_KIB, PASSES
from tests.api.sms_login import check, enrol, gateway_to_sink
from tests.conftest import ADMIN, PASSWORD

EARLIER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
TODAY = f"m={MEMORY_KIB},t={PASSES},p=1"


async def _stored_pin(runtime, serial: str) -> str:
    query = select(Token.pin_hash).where(Token.serial == serial)
    return str(await runtime.db.read(lambda tx: tx.execute(query).scalar_one()))


async def test_a_pin_hashed_with_earlier_parameters_is_rehashed_at_its_next_right_use(
    admin_api, http_sink, runtime
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, user="upgraded", pin="4711")
    earlier = EARLIER.hash("4711")
    change = update(Token).where(Token.serial == serial).values(pin_hash=earlier)
    await runtime.db.write(lambda tx: tx.execute(change))

    wrong = await check(admin_api, user="upgraded", realm="corp", **{"pass": "0000"})
    assert wrong["result"]["authentication"] == "REJECT"
    assert await _stored_pin(runtime, serial) == earlier  # a wrong PIN changes nothing

    right = await check(admin_api, user="upgraded", realm="corp", **{"pass": "4711"})
    assert right["result"]["authentication"] == "CHALLENGE"
    rehashed = await _stored_pin(runtime, serial)
    assert TODAY in rehashed and rehashed != earlier
    again = await check(admin_api, user="upgraded", realm="corp", **{"pass": "4711"})
    assert again["result"]["authentication"] == "CHALLENGE"


async def test_an_admin_password_hashed_with_earlier_parameters_is_rehashed_at_login(
    anonymous_api, runtime
):
    change = update(Admin).where(Admin.name == ADMIN).values(password_hash=EARLIER.hash(PASSWORD))
    await runtime.db.write(lambda tx: tx.execute(change))
    query = select(Admin.password_hash, Admin.token_generation).where(Admin.name == ADMIN)
    _, generation = await runtime.db.read(lambda tx: tx.execute(query).one())
    token = await anonymous_api.login()

    stored, generation_after = await runtime.db.read(lambda tx: tx.execute(query).one())
    assert TODAY in stored
    assert generation_after == generation  # the same password: no token is revoked
    assert (
        await anonymous_api.client.get("/smsgateway", headers={"Authorization": token})
    ).status_code == 200
    await anonymous_api.login()
