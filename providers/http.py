"""HTTP/HTTPS gateways: GET query, POST form or POST JSON, with success/fail markers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from pydantic import AnyHttpUrl, ConfigDict, Field, field_validator
from yarl import URL

from providers.base import (
    Provider,
    ProviderOptions,
    Receipt,
    RejectedByGateway,
    SendResult,
    render,
    secret_field,
)
from providers.http_client import Reply, pooled_session, request, status_error
from providers.http_reports import check_id_field, message_ids, parse_status_map, read_report
from providers.registry import registry

YesNo = Literal["yes", "no"]
_SUCCESS_STATUSES = {200, 201, 202}
_FORM, _JSON = "application/x-www-form-urlencoded", "application/json"


class HttpOptions(ProviderOptions):
    # Unknown keys are parameters sent to the gateway, as privacyIDEA does.
    model_config = ConfigDict(extra="allow")
    options_allowed = True

    URL: AnyHttpUrl = Field(description="Gateway endpoint; user:password@ in it means basic auth")
    HTTP_METHOD: Literal["GET", "POST"] = Field("GET", description="GET sends a query string")
    SEND_DATA_AS_JSON: YesNo = Field("no", description="POST the parameters as a JSON object")
    USERNAME: str | None = Field(None, description="Basic auth user")
    PASSWORD: str | None = secret_field(description="Basic auth password")
    CHECK_SSL: YesNo = Field("yes", description="Verify the gateway's TLS certificate")
    HTTP_PROXY: str | None = Field(None, description="Proxy for http:// URLs")
    HTTPS_PROXY: str | None = Field(None, description="Proxy for https:// URLs")
    PROXY: str | None = Field(None, description="Proxy for any URL (privacyIDEA's older name)")
    TIMEOUT: float = Field(5.0, gt=0, le=300, description="Seconds for the whole request")
    RETURN_SUCCESS: str | None = Field(
        None, description="The reply must contain this text to count as sent"
    )
    RETURN_FAIL: str | None = Field(
        None, description="A reply containing this text counts as failed"
    )
    # Delivery reports: the gateway calls /sms/dlr/{gateway}/{token} (see the README).
    MESSAGE_ID_FIELD: str | None = Field(
        None,
        description="Where the submit answer carries the message id: a JSON path "
        "(message_id, data.messages.id: a list gives one id per part) or /regex/ with "
        "one group; without it delivery reports cannot be matched",
        examples=["data.message_id", "/id=([0-9a-f]+)/"],
        # On the wire: the format says what JSON Schema cannot (a regex that compiles with
        # one group); the model's validator refuses the rest, naming the option.
        json_schema_extra={"x-wire": {"type": "string", "format": "message-id-field"}},
    )
    DLR_ID_FIELD: str = Field(
        "id", min_length=1, description="The delivery report's field with the message id"
    )
    DLR_STATUS_FIELD: str = Field(
        "status", min_length=1, description="The delivery report's field with the status"
    )
    DLR_ERROR_FIELD: str | None = Field(
        None, description="The delivery report's field with an error code, if any"
    )
    DLR_STATUS_MAP: str | None = Field(
        None,
        description="The gateway's statuses in our words (accepted, enroute, delivered, "
        "undeliverable, unknown): status=state,... or a JSON object; default: those words "
        "and SMPP's (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, ACCEPTD, ENROUTE, UNKNOWN)",
        examples=["0=delivered,1=undeliverable,2=enroute"],
        json_schema_extra={"x-wire": {"type": "string", "format": "status-map"}},
    )

    @field_validator("MESSAGE_ID_FIELD")
    @classmethod
    def _id_field(cls, value: str | None) -> str | None:
        return check_id_field(value)

    @field_validator("DLR_STATUS_MAP")
    @classmethod
    def _status_map(cls, value: str | None) -> str | None:
        parse_status_map(value)
        return value or None


@registry.register(
    "providers.http.HttpProvider",
    aliases=("privacyidea.lib.smsprovider.HttpSMSProvider.HttpSMSProvider",),
)
class HttpProvider(Provider[HttpOptions]):
    """Send through an HTTP(S) SMS gateway."""

    options_model = HttpOptions
    headers_allowed = True
    description = "HTTP/HTTPS gateway: GET or POST (form or JSON), basic auth, markers"

    _session: aiohttp.ClientSession | None = None

    def _url_and_auth(self) -> tuple[URL, aiohttp.BasicAuth | None]:
        url = URL(str(self.options.URL))
        user, password = self.options.USERNAME, self.options.PASSWORD
        if url.user and not user:
            user, password = url.user, url.password
        url = url.with_user(None)
        return url, aiohttp.BasicAuth(user, password or "") if user else None

    def _proxy(self, url: URL) -> str | None:
        proxy = self.options.HTTPS_PROXY if url.scheme == "https" else self.options.HTTP_PROXY
        return proxy or self.options.PROXY

    def session(self) -> aiohttp.ClientSession:
        # One pooled session per gateway: connections are reused across sends.
        if self._session is None or self._session.closed:
            verify = self.options.CHECK_SSL == "yes"
            self._session = pooled_session(verify=verify, headers=self.headers)
        return self._session

    def _parameters(self, phone: str, message: str) -> dict[str, str]:
        return {
            key: render(value, phone=phone, text=message)
            for key, value in self.options.extra_options().items()
        }

    async def send(self, phone: str, message: str) -> SendResult:
        phone = self.phone_for(phone)
        url, auth = self._url_and_auth()
        parameters = self._parameters(phone, message)
        kwargs: dict[str, Any] = {}
        if self.options.HTTP_METHOD == "GET":
            kwargs["params"] = parameters
        else:
            # Encoded here: aiohttp's FormData does the same with more work per send.
            as_json = self.options.SEND_DATA_AS_JSON == "yes"
            body = json.dumps(parameters) if as_json else urlencode(parameters)
            kwargs["data"] = body.encode()
            if not any(name.lower() == "content-type" for name in self.headers):
                kwargs["headers"] = {"Content-Type": _JSON if as_json else _FORM}
        reply = await request(
            self.session(),
            self.options.HTTP_METHOD,
            str(url),
            seconds=self.options.TIMEOUT,
            proxy=self._proxy(url),
            auth=auth,
            **kwargs,
        )
        return self._judge(reply)

    def _judge(self, reply: Reply) -> SendResult:
        status, text = reply.status, reply.text
        if status not in _SUCCESS_STATUSES:
            raise status_error(status, reply.headers, text, "gateway")
        if self.options.RETURN_FAIL and self.options.RETURN_FAIL in text:
            raise RejectedByGateway(
                "rejected", f"gateway reply contains the fail marker: {text[:200]}"
            )
        if self.options.RETURN_SUCCESS and self.options.RETURN_SUCCESS not in text:
            raise RejectedByGateway(
                "rejected", f"gateway reply lacks the success marker: {text[:200]}"
            )
        ids = message_ids(self.options.MESSAGE_ID_FIELD, text)
        return SendResult(
            message_ids=ids, parts=max(1, len(ids)), raw_status=f"{status} {text[:200]}"
        )

    def read_report(self, data: Mapping[str, Any]) -> Receipt:
        """The receipt in a delivery report's fields; ReportUnreadable names what is wrong."""
        return read_report(
            data,
            id_field=self.options.DLR_ID_FIELD,
            status_field=self.options.DLR_STATUS_FIELD,
            error_field=self.options.DLR_ERROR_FIELD,
            status_map=parse_status_map(self.options.DLR_STATUS_MAP),
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
