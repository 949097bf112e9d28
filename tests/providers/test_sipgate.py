"""The Sipgate provider against a local XML-RPC server that records what it received."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    SendError,
    SendResult,
    TemporaryFailure,
    Throttled,
    TimedOut,
    Unreachable,
)
from providers.registry import OptionsInvalid, registry
from providers.sipgate import SipgateOptions, SipgateProvider
from tests.peers.ports import free_port
from tests.peers.xmlrpc_server import XmlRpcServer

NAME = "providers.sipgate.SipgateProvider"
ALIAS = "privacyidea.lib.smsprovider.SipgateSMSProvider.SipgateSMSProvider"
PASSWORD = "s3cret-pw"
Send = Callable[..., Awaitable[SendResult]]
Build = Callable[..., SipgateProvider]


@pytest_asyncio.fixture
async def sipgate() -> AsyncIterator[XmlRpcServer]:
    server = await XmlRpcServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def build(sipgate: XmlRpcServer) -> AsyncIterator[Build]:
    providers: list[SipgateProvider] = []

    def build(**options: Any) -> SipgateProvider:
        raw = {"URL": sipgate.url + "/RPC2", "USERNAME": "alice", "PASSWORD": PASSWORD, **options}
        options = registry.validate(NAME, {k: str(v) for k, v in raw.items()})
        assert isinstance(options, SipgateOptions)
        provider = SipgateProvider(options)
        providers.append(provider)
        return provider

    yield build
    for provider in providers:
        await provider.aclose()


@pytest.fixture
def send(build: Build) -> Send:
    async def send(
        phone: str = "+491701234567", message: str = "123456", **options: Any
    ) -> SendResult:
        return await build(**options).send(phone, message)

    return send


async def failure(send: Send, **options: Any) -> SendError:
    with pytest.raises(SendError) as error:
        await send(**options)
    assert PASSWORD not in str(error.value) and PASSWORD not in error.value.message
    return error.value


async def test_session_initiate_carries_the_number_the_text_and_basic_auth(send, sipgate):
    result = await send()
    (call,) = sipgate.calls
    assert call.method == "samurai.SessionInitiate"
    assert call.params == (
        {"RemoteUri": "sip:491701234567@sipgate.de", "TOS": "text", "Content": "123456"},
    )
    assert call.authorization == "Basic " + base64.b64encode(b"alice:s3cret-pw").decode()
    assert call.content_type.startswith("text/xml")
    assert call.request_line_url == sipgate.url + "/RPC2"
    assert result.message_ids == ["s-1"]
    assert result.raw_status == "200"


async def test_xml_special_characters_and_unicode_arrive_intact(send, sipgate):
    text = "<b>Code</b> & \"123\" 'ok' ]]> Grüße €"
    await send(message=text)
    assert sipgate.calls[0].params[0]["Content"] == text


async def test_regexp_rewrites_the_number_before_it_goes_into_the_sip_uri(send, sipgate):
    await send(phone="+49 (170) 123-4567", REGEXP="/[ ()-]//")
    assert sipgate.calls[0].params[0]["RemoteUri"] == "sip:491701234567@sipgate.de"


async def test_surrounding_blanks_and_plus_signs_are_dropped_from_the_number(send, sipgate):
    await send(phone=" +491701234567 ")
    assert sipgate.calls[0].params[0]["RemoteUri"] == "sip:491701234567@sipgate.de"


async def test_an_answer_without_a_session_id_is_still_a_success(send, sipgate):
    sipgate.answer = {"StatusCode": 200, "StatusString": "Method success"}
    assert (await send()).message_ids == []


async def test_sends_of_one_gateway_reuse_its_connection(build, sipgate):
    provider = build()
    await provider.send("491701234567", "1")
    await provider.send("491701234567", "2")
    assert sipgate.calls[0].peer == sipgate.calls[1].peer


async def test_a_closed_provider_opens_a_new_connection_on_its_next_send(build, sipgate):
    provider = build()
    await provider.send("491701234567", "1")
    await provider.aclose()
    await provider.send("491701234567", "2")
    assert len(sipgate.calls) == 2


async def test_a_fault_is_rejected_by_the_gateway_with_the_remote_message(send, sipgate):
    sipgate.fault = (401, "Unauthorized: bad credentials")
    error = await failure(send)
    assert type(error) is RejectedByGateway and error.code == "fault_401"
    assert "Unauthorized: bad credentials" in error.message
    assert not error.retryable


@pytest.mark.parametrize(
    ("status", "text"), [(401, "Request denied"), (407, "Invalid parameter value")]
)
async def test_a_status_code_other_than_200_is_rejected_by_the_gateway_with_code_and_text(
    send, sipgate, status, text
):
    sipgate.answer = {"StatusCode": status, "StatusString": text}
    error = await failure(send)
    assert type(error) is RejectedByGateway and error.code == f"status_{status}"
    assert str(status) in error.message and text in error.message


@pytest.mark.parametrize("status", [402, 500, 503])
async def test_samurais_internal_error_and_5xx_status_codes_are_temporary(send, sipgate, status):
    sipgate.answer = {"StatusCode": status, "StatusString": "busy"}
    assert type(await failure(send)) is TemporaryFailure


@pytest.mark.parametrize("status", [500, 503])
async def test_http_5xx_is_a_temporary_failure(send, sipgate, status):
    sipgate.http_status = status
    error = await failure(send)
    assert type(error) is TemporaryFailure
    assert error.code == f"http_{status}" and error.retryable


async def test_http_429_is_throttled_with_retry_after(send, sipgate):
    sipgate.http_status, sipgate.http_headers = 429, {"Retry-After": "30"}
    error = await failure(send)
    assert isinstance(error, Throttled) and error.retry_after == 30.0 and error.retryable


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_other_http_errors_are_rejected_by_the_gateway(send, sipgate, status):
    sipgate.http_status = status
    error = await failure(send)
    assert type(error) is RejectedByGateway
    assert error.code == f"http_{status}" and not error.retryable


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<html>maintenance</html>",
        b"<methodResponse><params></params></methodResponse>",
        b"<methodResponse><params><param><value><int>zz</int></value></param></params>"
        b"</methodResponse>",
    ],
)
async def test_an_answer_that_is_not_xml_rpc_leaves_the_outcome_unknown(send, sipgate, raw):
    sipgate.raw = raw
    error = await failure(send)
    assert type(error) is OutcomeUnknown and error.code == "bad_response"


@pytest.mark.parametrize("answer", ["OK", {"StatusString": "Method success"}])
async def test_an_answer_without_a_status_code_is_a_bad_response(send, sipgate, answer):
    sipgate.answer = answer
    assert (await failure(send)).code == "bad_response"


async def test_a_slow_answer_is_a_retryable_timeout(send, sipgate):
    sipgate.delay = 1.0
    error = await failure(send, TIMEOUT="0.2")
    assert type(error) is TimedOut and error.code == "timeout" and error.retryable


async def test_a_dead_endpoint_is_a_retryable_connection_error(send):
    error = await failure(send, URL=f"http://127.0.0.1:{free_port()}/RPC2")
    assert type(error) is Unreachable and error.code == "connection" and error.retryable


async def test_a_dead_proxy_is_a_retryable_connection_error(send):
    error = await failure(send, PROXY=f"http://127.0.0.1:{free_port()}")
    assert type(error) is Unreachable and error.code == "connection" and error.retryable


async def test_the_proxy_option_routes_the_call_through_the_proxy(send, sipgate):
    # The server plays the proxy: a proxy receives the absolute URL in the request line.
    await send(URL="http://samurai.invalid/RPC2", PROXY=sipgate.url)
    assert sipgate.calls[0].request_line_url == "http://samurai.invalid/RPC2"
    assert sipgate.calls[0].proxy_authorization == ""


async def test_proxy_credentials_in_the_proxy_url_log_in_to_the_proxy(send, sipgate):
    await send(URL="http://samurai.invalid/RPC2", PROXY=sipgate.url.replace("//", "//px:pw@"))
    (call,) = sipgate.calls
    assert call.proxy_authorization == "Basic " + base64.b64encode(b"px:pw").decode()
    assert call.authorization == "Basic " + base64.b64encode(b"alice:s3cret-pw").decode()


def test_the_privacyidea_alias_resolves_to_the_provider():
    assert registry.resolve(ALIAS) is SipgateProvider
    assert registry.canonical(ALIAS) == NAME


def test_the_schema_offers_sipgates_url_and_marks_the_password_secret():
    parameters = registry.schema()[NAME]["parameters"]
    assert set(parameters) == {"URL", "USERNAME", "PASSWORD", "PROXY", "TIMEOUT", "REGEXP"}
    assert parameters["URL"]["default"] == "https://samurai.sipgate.net/RPC2"
    assert parameters["PASSWORD"]["secret"] is True
    assert parameters["USERNAME"]["required"] is True
    assert all(parameter["description"] for parameter in parameters.values())
    assert registry.secret_keys(NAME) == {"PASSWORD"}


def test_options_arrive_as_strings_and_default_to_sipgate():
    options = registry.validate(NAME, {"USERNAME": "alice", "PASSWORD": "pw", "TIMEOUT": "2.5"})
    assert isinstance(options, SipgateOptions)
    assert str(options.URL) == "https://samurai.sipgate.net/RPC2"
    assert options.TIMEOUT == 2.5


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"PASSWORD": "pw"}, "USERNAME"),
        ({"USERNAME": "alice"}, "PASSWORD"),
        ({"USERNAME": "alice", "PASSWORD": "pw", "URL": "not a url"}, "URL"),
        ({"USERNAME": "alice", "PASSWORD": "pw", "TIMEOUT": "-1"}, "TIMEOUT"),
        ({"USERNAME": "alice", "PASSWORD": "pw", "TIMEOUT": "soon"}, "TIMEOUT"),
        ({"USERNAME": "alice", "PASSWORD": "pw", "REGEXP": "[ ]"}, "REGEXP"),
        ({"USERNAME": "alice", "PASSWORD": "pw", "SENDER": "me"}, "SENDER"),
    ],
)
def test_bad_options_are_refused_naming_the_key(raw, key):
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert key in [k for k, _ in error.value.errors]
