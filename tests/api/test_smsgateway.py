"""/smsgateway as design.md §2 describes it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.db.tables import GatewayOption

HTTP = "providers.http.HttpProvider"
PI_HTTP = "privacyidea.lib.smsprovider.HttpSMSProvider.HttpSMSProvider"
URL = "http://127.0.0.1:9/send"


def gateway(name: str = "gw1", **extra: str) -> dict[str, str]:
    return {"name": name, "module": HTTP, "option.URL": URL, **extra}


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_create_returns_the_id_and_lists_the_gateway(admin_api, form):
    body = gateway(description="primary", **{"option.HTTP_METHOD": "POST", "header.X-A": "1"})
    gwid = await admin_api.post("/smsgateway", body, form=form)
    assert await admin_api.value("/smsgateway/") == [
        {
            "id": gwid,
            "name": "gw1",
            "description": "primary",
            "providermodule": HTTP,
            "options": {"URL": URL, "HTTP_METHOD": "POST"},
            "headers": {"X-A": "1"},
            "secret_options": [],
            "secret_headers": [],
        }
    ]


async def test_nested_options_and_headers_are_accepted_as_openapi_style(admin_api):
    body = {
        "name": "gw1",
        "module": HTTP,
        "options": {"URL": URL, "TIMEOUT": 3},
        "headers": {"X-Key": "k"},
        "secret_headers": ["X-Key"],
    }
    await admin_api.post("/smsgateway", body)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"] == {"URL": URL, "TIMEOUT": "3"}
    assert listed["headers"] == {"X-Key": "__CENSORED__"}


async def test_get_smsgateway_with_and_without_slash_is_the_same_route(admin_api):
    await admin_api.post("/smsgateway", gateway())
    with_slash = await admin_api.request("GET", "/smsgateway/")
    without = await admin_api.request("GET", "/smsgateway")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json()["result"] == without.json()["result"]


async def test_a_gateway_reads_back_with_the_providermodule_it_was_written_with(admin_api):
    await admin_api.post("/smsgateway", {**gateway(), "module": PI_HTTP}, form=True)
    await admin_api.post("/smsgateway", {**gateway("gw2"), "module": HTTP})
    listed = await admin_api.value("/smsgateway/")
    assert [g["providermodule"] for g in listed] == [PI_HTTP, HTTP]


async def test_update_by_name_replaces_the_whole_option_and_header_set(admin_api):
    first = await admin_api.post(
        "/smsgateway", gateway(**{"option.text": "{otp}", "header.X-Old": "1"})
    )
    second = await admin_api.post("/smsgateway", gateway(description="new", **{"option.to": "x"}))
    assert first == second
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"] == {"URL": URL, "to": "x"}
    assert listed["headers"] == {}
    assert listed["description"] == "new"


async def test_get_by_id_is_a_one_element_list_and_unknown_id_an_empty_list(admin_api):
    gwid = await admin_api.post("/smsgateway", gateway())
    assert [g["name"] for g in await admin_api.value(f"/smsgateway/{gwid}")] == ["gw1"]
    assert await admin_api.value(f"/smsgateway/{gwid + 100}") == []


async def test_non_numeric_id_is_a_400_not_a_listing(admin_api):
    error = await admin_api.error("GET", "/smsgateway/abc", status=400, code=905)
    assert "identifier" in error["message"]


async def test_providers_lists_every_provider_with_its_parameters(admin_api):
    providers = await admin_api.value("/smsgateway/providers")
    assert HTTP in providers
    http = providers[HTTP]
    assert http["options_allowed"] is True and http["headers_allowed"] is True
    assert http["parameters"]["URL"]["required"] is True
    assert http["parameters"]["HTTP_METHOD"]["values"] == ["GET", "POST"]
    assert http["parameters"]["PASSWORD"]["secret"] is True
    assert "required" not in http["parameters"]["USERNAME"]


async def test_delete_by_name_counts_and_is_zero_when_none(admin_api):
    await admin_api.post("/smsgateway", gateway())
    assert await admin_api.delete("/smsgateway/gw1") == 1
    assert await admin_api.delete("/smsgateway/gw1") == 0
    assert await admin_api.value("/smsgateway/") == []


async def test_delete_option_and_header(admin_api):
    gwid = await admin_api.post(
        "/smsgateway", gateway(**{"option.text": "{otp}", "header.X-A": "1"})
    )
    assert await admin_api.delete(f"/smsgateway/option/{gwid}/text") == 1
    assert await admin_api.delete(f"/smsgateway/option/{gwid}/text") == 0
    assert await admin_api.delete(f"/smsgateway/option/{gwid}/header.X-A") == 1
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"] == {"URL": URL} and listed["headers"] == {}


async def test_delete_option_of_unknown_gateway_is_404_and_non_numeric_id_400(admin_api):
    await admin_api.error("DELETE", "/smsgateway/option/999/text", status=404, code=601)
    await admin_api.error("DELETE", "/smsgateway/option/abc/text", status=400, code=905)


async def test_deleting_a_required_option_is_refused_and_keeps_it(admin_api):
    gwid = await admin_api.post("/smsgateway", gateway())
    error = await admin_api.error("DELETE", f"/smsgateway/option/{gwid}/URL", status=400)
    assert "URL" in error["message"]
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["URL"] == URL


# --- secrets -------------------------------------------------------------------------------


async def stored_rows(runtime) -> dict[str, GatewayOption]:
    rows = await runtime.db.read(lambda tx: tx.execute(select(GatewayOption)).scalars().all())
    return {f"{r.kind}.{r.key}": r for r in rows}


async def test_secrets_by_name_are_encrypted_at_rest_and_censored_on_read(admin_api, runtime):
    await admin_api.post(
        "/smsgateway",
        # Plaintexts with a space, which base64 never holds: no chance match in the ciphertext.
        gateway(**{"option.PASSWORD": "pw 1", "option.api_secret": "s 2", "header.X-Secret": "h3"}),
        form=True,
    )
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["PASSWORD"] == "__CENSORED__"
    assert listed["options"]["api_secret"] == "__CENSORED__"
    assert listed["headers"]["X-Secret"] == "__CENSORED__"
    assert sorted(listed["secret_options"]) == ["PASSWORD", "api_secret"]
    rows = await stored_rows(runtime)
    for key, plain in (("option.PASSWORD", "pw 1"), ("option.api_secret", "s 2")):
        assert rows[key].secret and plain not in rows[key].value
        assert runtime.box.open(rows[key].value) == plain


async def test_explicit_flag_makes_any_key_secret(admin_api, runtime):
    await admin_api.post(
        "/smsgateway",
        gateway(
            **{
                "option.apikey": "k",
                "secret.option.apikey": "1",
                "header.Auth": "t",
                "secret.header.Auth": "1",
            }
        ),
        form=True,
    )
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["apikey"] == "__CENSORED__"
    assert listed["secret_headers"] == ["Auth"]


async def test_name_rule_holds_even_when_other_keys_are_flagged(admin_api):
    # privacyIDEA's flaw: one explicit flag switched the PASSWORD rule off and stored it in clear.
    await admin_api.post(
        "/smsgateway",
        gateway(
            **{
                "option.PASSWORD": "pw",
                "option.apikey": "k",
                "secret.option.apikey": "1",
                "secret.option.PASSWORD": "0",
            }
        ),
        form=True,
    )
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["PASSWORD"] == "__CENSORED__"


async def test_posting_censored_keeps_the_stored_secret(admin_api, runtime):
    await admin_api.post("/smsgateway", gateway(**{"option.PASSWORD": "original"}))
    await admin_api.post("/smsgateway", gateway(**{"option.PASSWORD": "__CENSORED__"}))
    rows = await stored_rows(runtime)
    assert runtime.box.open(rows["option.PASSWORD"].value) == "original"


async def test_posting_empty_clears_the_secret(admin_api, runtime):
    await admin_api.post("/smsgateway", gateway(**{"option.PASSWORD": "original"}))
    await admin_api.post("/smsgateway", gateway(**{"option.PASSWORD": ""}))
    assert "option.PASSWORD" not in await stored_rows(runtime)


async def test_censored_without_a_stored_value_is_a_409_conflict(admin_api):
    # The body is well formed (the document allows the placeholder for every option); what
    # is missing is a stored value to keep: the gateway's state, so 409, not 400.
    error = await admin_api.post_error(
        "/smsgateway", gateway(**{"option.PASSWORD": "__CENSORED__"}), status=409
    )
    assert "PASSWORD" in error["message"]


async def test_secrets_never_reach_the_logs(admin_api, caplog):
    caplog.set_level("DEBUG")
    await admin_api.post("/smsgateway", gateway(**{"option.PASSWORD": "hunter2-log-canary"}))
    await admin_api.value("/smsgateway/")
    assert "hunter2-log-canary" not in caplog.text


# --- bad input: a clear 4xx naming the problem, nothing stored -----------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"module": HTTP, "option.URL": URL}, "name"),
        ({"name": "", "module": HTTP, "option.URL": URL}, "name"),
        ({"name": "gw1", "option.URL": URL}, "module"),
        ({"name": "gw1", "module": "", "option.URL": URL}, "module"),
        ({"name": "gw1", "module": "os.system"}, "module"),
        ({"name": "gw1", "module": "privacyidea.lib.smsprovider.Evil.Evil"}, "module"),
        ({"name": "gw1", "module": HTTP}, "URL"),
        (gateway(**{"option.URL": "not a url"}), "URL"),
        (gateway(**{"option.HTTP_METHOD": "PUT"}), "HTTP_METHOD"),
        (gateway(**{"option.TIMEOUT": "soon"}), "TIMEOUT"),
        (gateway(**{"option.SEND_DATA_AS_JSON": "perhaps"}), "SEND_DATA_AS_JSON"),
        (gateway(color="blue"), "color"),
        (gateway(name="x" * 256), "name"),
        (gateway(name="a/b"), "name"),
        (gateway(**{"option." + "K" * 256: "v"}), "K" * 40),
        (gateway(**{"header." + "H" * 256: "v"}), "H" * 40),
        (gateway(**{"option.\x01": "v"}), "options"),
    ],
)
@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    admin_api, body, named, form
):
    error = await admin_api.post_error("/smsgateway", body, status=400, code=905, form=form)
    assert named in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_every_bad_option_is_named_at_once(admin_api):
    body = gateway(**{"option.URL": "x", "option.HTTP_METHOD": "PUT", "option.TIMEOUT": "soon"})
    message = (await admin_api.post_error("/smsgateway", body, status=400))["message"]
    assert all(key in message for key in ("URL", "HTTP_METHOD", "TIMEOUT"))


async def test_a_failed_update_leaves_the_previous_definition_whole(admin_api):
    await admin_api.post("/smsgateway", gateway(**{"option.text": "{otp}"}))
    await admin_api.post_error(
        "/smsgateway", gateway(**{"option.HTTP_METHOD": "PUT", "option.to": "y"}), status=400
    )
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"] == {"URL": URL, "text": "{otp}"}


async def test_unicode_and_sql_looking_names_are_stored_verbatim(admin_api):
    names = ["Gateway ÄÖÜ 短信 🚀", "x'; DROP TABLE gateway; --", "a" * 255]
    for name in names:
        await admin_api.post("/smsgateway", gateway(name=name))
    listed = await admin_api.value("/smsgateway/")
    assert sorted(g["name"] for g in listed) == sorted(names)
    assert await admin_api.delete("/smsgateway/x'; DROP TABLE gateway; --") == 1


async def test_invalid_json_is_a_400(admin_api):
    error = await admin_api.error(
        "POST",
        "/smsgateway",
        status=400,
        code=905,
        content=b'{"name": "gw1", "module": ',
        headers={"Content-Type": "application/json"},
    )
    assert "JSON" in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_a_json_array_instead_of_an_object_is_a_400(admin_api):
    await admin_api.error("POST", "/smsgateway", status=400, json=["gw1"])


async def test_wrong_content_type_is_a_415_naming_it(admin_api):
    error = await admin_api.error(
        "POST",
        "/smsgateway",
        status=415,
        content=b"name=gw1",
        headers={"Content-Type": "text/plain"},
    )
    assert "text/plain" in error["message"]


async def test_oversized_body_is_a_413_and_nothing_is_stored(admin_api):
    body = gateway(description="x" * 100_000)
    await admin_api.post_error("/smsgateway", body, status=413)
    await admin_api.post_error("/smsgateway", body, status=413, form=True)
    assert await admin_api.value("/smsgateway/") == []


async def test_multipart_form_is_accepted(admin_api):
    files = {key: (None, value) for key, value in gateway().items()}
    reply = await admin_api.client.post(
        "/smsgateway", files=files, headers={"Authorization": admin_api.token}
    )
    assert reply.status_code == 200, reply.text


# --- every write is audited ------------------------------------------------------------------


async def test_writes_are_audited_with_who_what_and_success(admin_api, runtime):
    from app.db.tables import AuditEntry

    await admin_api.post("/smsgateway", gateway())
    await admin_api.post_error("/smsgateway", gateway(**{"option.URL": "bad"}), status=400)
    await admin_api.delete("/smsgateway/gw1")
    query = select(AuditEntry).order_by(AuditEntry.id)
    rows = await runtime.db.read(lambda tx: tx.execute(query).scalars().all())
    writes = [
        (r.actor, r.action, r.target, r.success) for r in rows if r.action.startswith("smsgateway")
    ]
    assert writes == [
        ("admin", "smsgateway_write", "gw1", True),
        ("admin", "smsgateway_write", "gw1", False),
        ("admin", "smsgateway_delete", "gw1", True),
    ]
    assert all(r.client_ip == "127.0.0.9" for r in rows if r.actor == "admin")


async def test_numbers_are_taken_as_privacyidea_clients_send_them(admin_api):
    body = gateway(description=7, **{"option.TIMEOUT": 30, "option.to": 491701234567})
    await admin_api.post("/smsgateway", body)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["description"] == "7"
    assert listed["options"]["TIMEOUT"] == "30" and listed["options"]["to"] == "491701234567"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"option.TIMEOUT": 2.5}, "TIMEOUT"),
        ({"option.CHECK_SSL": True}, "CHECK_SSL"),
        ({"options": {"TIMEOUT": [1]}}, "TIMEOUT"),
        ({"description": 1.5}, "description"),
        ({"id": False}, "id"),
        ({"secret.option.PASSWORD": None}, "secret.option.PASSWORD"),
    ],
)
async def test_floats_booleans_and_lists_stay_400s_naming_the_field(admin_api, extra, named):
    error = await admin_api.post_error("/smsgateway", gateway(**extra), status=400, code=905)
    assert named in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_the_document_names_every_module_and_both_readings_of_the_identifier(admin_api):
    document = (await admin_api.client.get("/openapi.json")).json()
    module = document["components"]["schemas"]["GatewayIn"]["properties"]["module"]
    assert re.search(module["pattern"], HTTP) and re.search(module["pattern"], PI_HTTP)
    assert not re.search(module["pattern"], "os.system")
    operations = document["paths"]["/smsgateway/{identifier}"]
    for method, reading in (("get", "id"), ("delete", "name")):
        [parameter] = operations[method]["parameters"]
        assert parameter["name"] == "identifier"
        assert f"**{reading}**" in parameter["description"]
        assert "deletes gateways by **name**" in operations[method]["description"]


# --- the body schema of the document is what the service enforces ---------------------------


async def test_the_body_is_one_exact_schema_per_provider_told_apart_by_module(admin_api):
    from providers.registry import registry

    document = (await admin_api.client.get("/openapi.json")).json()
    body = document["paths"]["/smsgateway"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert body["schema"]["discriminator"]["propertyName"] == "module"
    assert sorted(mapping) == registry.accepted_names()
    assert mapping[HTTP] == mapping[PI_HTTP] == "#/components/schemas/HttpGatewayIn"
    assert len(body["schema"]["oneOf"]) == len(registry.names())
    for name in registry.names():
        model = registry.resolve(name).options_model
        branch = document["components"]["schemas"][mapping[name].rsplit("/", 1)[1]]
        # Every field of the options model, nested and flattened: new fields appear by themselves.
        assert set(model.model_fields) == set(branch["properties"]["options"]["properties"])
        assert {f"option.{key}" for key in model.model_fields} <= set(branch["properties"])
        open_ended = branch["properties"]["options"]["additionalProperties"] is not False
        assert open_ended == model.options_allowed


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"option.TIMEOUT": "301"}, "option.TIMEOUT"),  # out of range as text
        ({"option.TIMEOUT": "1e2"}, "option.TIMEOUT"),  # decimal text only
        ({"options": {"HTTP_METHOD": "GET"}}, "URL"),  # nested: the required ones there
        ({"option.URL": "ftp://example.com/"}, "option.URL"),  # http(s) only
        ({"option.URL": "http://1.2.3.4.5/"}, "option.URL"),  # no host a URL parser refuses
        ({"option.REGEXP": "not/a/substitution"}, "option.REGEXP"),
    ],
)
async def test_what_the_document_refuses_is_a_400_naming_the_field(admin_api, extra, named):
    error = await admin_api.post_error("/smsgateway", gateway(**extra), status=400, code=905)
    assert named in error["message"]
    assert await admin_api.value("/smsgateway/") == []


@pytest.mark.parametrize(
    "extra",
    [
        {"option.TIMEOUT": "0.5"},
        {"option.TIMEOUT": "300.0"},
        {"option.TIMEOUT": 7},
        {"option.URL": "https://user:pa%20ss@sms.example.com:8443/send?x=1"},
        {"option.URL": "http://10.0.0.1/"},
        {"option.REGEXP": "/[+-/. ]//"},
        {"option.anything": "extra parameters for the HTTP provider"},
        {"options": {"URL": URL, "text": "{otp}"}, "option.URL": URL},
    ],
)
async def test_what_the_document_accepts_is_stored(admin_api, extra):
    await admin_api.post("/smsgateway", gateway(**extra))
    assert [g["name"] for g in await admin_api.value("/smsgateway/")] == ["gw1"]


async def test_smpp_numbers_read_as_privacyidea_reads_them(admin_api):
    body = {
        "name": "smsc",
        "module": "privacyidea.lib.smsprovider.SmppSMSProvider.SmppSMSProvider",
        "option.SMSC_HOST": "127.0.0.1",
        "option.SYSTEM_ID": "otp",
        "option.S_ADDR_TON": "0x5",
        "option.D_ADDR_TON": 12,
    }
    await admin_api.post("/smsgateway", body)
    await admin_api.post_error(
        "/smsgateway", {**body, "option.D_ADDR_TON": 100}, status=400, code=905
    )


async def test_a_script_that_is_not_there_is_a_404_naming_it(admin_api):
    body = {"name": "local", "module": "providers.script.ScriptProvider", "option.script": "x.sh"}
    error = await admin_api.post_error("/smsgateway", body, status=404, code=601)
    assert "script" in error["message"]
    await admin_api.post_error(
        "/smsgateway", {**body, "option.script": "../x.sh"}, status=400, code=905
    )


async def test_a_flag_of_zero_is_no_flag_and_plain_options_is_not_a_field(admin_api, runtime):
    await admin_api.post("/smsgateway", gateway(**{"option.token": "t", "secret.option.token": 0}))
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["token"] == "t" and listed["secret_options"] == []
    await admin_api.post_error(
        "/smsgateway", {**gateway(), "plain_options": ["token"]}, status=400, code=905
    )
