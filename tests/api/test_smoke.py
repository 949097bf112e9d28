async def test_health_answers_ok(anonymous_api):
    reply = await anonymous_api.request("GET", "/healthz")
    assert reply.status_code == 200


async def test_admin_can_create_and_list_a_gateway(admin_api, http_sink):
    gwid = await admin_api.post(
        "/smsgateway",
        {"name": "gw1", "module": "providers.http.HttpProvider", "option.URL": http_sink.url},
        form=True,
    )
    listed = await admin_api.value("/smsgateway/")
    assert [g["id"] for g in listed] == [gwid]
