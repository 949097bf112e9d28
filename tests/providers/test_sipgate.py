"""The Sipgate provider against a local XML-RPC server that records what it received."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from providers.base import SendError, SendResult
from providers.registry import OptionsInvalid, registry
from providers.sipgate import SipgateProvider
from tests.peers.ports import free_port
from tests.peers.xmlrpc_server import XmlRpcServer

NAME = "providers.sipgate.SipgateProvider"
Send = Callable[..., Awaitable[SendResult]]


@pytest_asyncio.fixture
async def sipgate() -> AsyncIterator[XmlRpcServer]:
    server = await XmlRpcServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def send(sipgate: XmlRpcServer) -> AsyncIterator[Send]:
    providers: list[SipgateProvider] = []

    async def send(
        phone: str = "+491701234567", message: str = "123456", **options: Any
    ) -> SendResult:
        raw = {
            "URL": sipgate.url + "/RPC2",
            "USERNAME": "alice",
            "PASSWORD": "s3cret-pw",
            **options,
        }
        provider = SipgateProvider(registry.validate(NAME, {k: str(v) for k, v in raw.items()}))
        providers.append(provider)
        return await provider.send(phone, message)

    yield send
    for provider in providers:
        await provider.aclose()


async def test_session_initiate_carries_the_number_the_text_and_basic_auth(send, sipgate):
    result = await send()
    (call,) = sipgate.calls
    assert call.method == "samurai.SessionInitiate"
    assert call.params == (
        {"RemoteUri": "sip:491701234567@sipgate.net", "TOS": "text", "Content": "123456"},
    )
    assert call.authorization == "Basic " + base64.b64encode(b"alice:s3cret-pw").decode()
    assert result.message_ids == ["s-1"]


async def test_xml_special_characters_and_unicode_arrive_intact(send, sipgate):
    text = "<b>Code</b> & \"123\" 'ok' ]]> Grüße €"
    await send(message=text)
    assert sipgate.calls[0].params[0]["Content"] == text


async def test_regexp_rewrites_the_number_before_it_goes_into_the_sip_uri(send, sipgate):
    await send(phone="+49 170 1234567", REGEXP="/[ ]//")
    assert sipgate.calls[0].params[0]["RemoteUri"] == "sip:491701234567@sipgate.net"


async def test_a_fault_is_an_error_with_the_remote_message(send, sipgate):
    sipgate.fault = (401, "Unauthorized: bad credentials")
    with pytest.raises(SendError) as error:
        await send()
    assert error.value.code == "fault_401"
    assert "Unauthorized: bad credentials" in error.value.message
    assert "s3cret-pw" not in str(error.value)


async def test_a_status_code_other_than_200_is_an_error(send, sipgate):
    sipgate.answer = {"StatusCode": 407, "StatusString": "Insufficient funds"}
    with pytest.raises(SendError) as error:
        await send()
    assert error.value.code == "status_407"
    assert "Insufficient funds" in error.value.message


async def test_http_500_is_retryable(send, sipgate):
    sipgate.http_status = 503
    with pytest.raises(SendError) as error:
        await send()
    assert error.value.code == "http_503" and error.value.retryable


async def test_garbage_is_a_bad_response(send, sipgate):
    sipgate.raw = b"<html>maintenance</html>"
    with pytest.raises(SendError) as error:
        await send()
    assert error.value.code == "bad_response"


async def test_a_slow_answer_is_a_retryable_timeout(send, sipgate):
    sipgate.delay = 1.0
    with pytest.raises(SendError) as error:
        await send(TIMEOUT="0.2")
    assert error.value.code == "timeout" and error.value.retryable


async def test_a_dead_endpoint_is_a_retryable_connection_error(send):
    with pytest.raises(SendError) as error:
        await send(URL=f"http://127.0.0.1:{free_port()}/RPC2")
    assert error.value.code == "connection" and error.value.retryable


async def test_the_proxy_option_routes_the_call_through_the_proxy(send, sipgate):
    # The server plays the proxy: a proxy receives the absolute URL in the request line.
    await send(URL="http://samurai.invalid/RPC2", PROXY=sipgate.url)
    assert sipgate.calls[0].request_line_url.startswith("http://samurai.invalid/RPC2")


def test_the_default_url_is_sipgates_and_the_password_is_a_secret():
    parameters = registry.schema()[NAME]["parameters"]
    assert parameters["URL"]["default"] == "https://samurai.sipgate.net/RPC2"
    assert parameters["PASSWORD"]["secret"] is True
    alias = "privacyidea.lib.smsprovider.SipgateSMSProvider.SipgateSMSProvider"
    assert registry.resolve(alias) is SipgateProvider


@pytest.mark.parametrize(("key", "value"), [("URL", "not a url"), ("TIMEOUT", "-1")])
def test_bad_options_name_the_key(key, value):
    raw = {"USERNAME": "alice", "PASSWORD": "pw", key: value}
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert key in [k for k, _ in error.value.errors]
