"""The template parameters ``LocalStack`` starts with: its own MQTT URL as ``XyteMqttUrl`` (what Xyte
registration answers as ``mqtt_hub_url``), unless the caller sets it or the template has no such
parameter."""

from __future__ import annotations

from fleetgate_local.stack import template_parameters

URL = "mqtt://127.0.0.1:41883"
DECLARED = {"Parameters": {"XyteMqttUrl": {"Type": "String", "Default": ""}, "Other": {"Type": "String"}}}


def test_the_local_mqtt_url_becomes_xyte_mqtt_url() -> None:
    assert template_parameters(DECLARED, {"Other": "x"}, URL) == {"Other": "x", "XyteMqttUrl": URL}


def test_the_callers_xyte_mqtt_url_wins_even_when_empty() -> None:
    for given in ("mqtts://a1-ats.iot.us-east-1.amazonaws.com:8883", ""):
        assert template_parameters(DECLARED, {"XyteMqttUrl": given}, URL) == {"XyteMqttUrl": given}


def test_the_local_mqtt_url_becomes_thingspro_mqtt_url_too() -> None:
    both = {"Parameters": {**DECLARED["Parameters"], "ThingsProMqttUrl": {"Type": "String", "Default": ""}}}
    assert template_parameters(both, {}, URL) == {"XyteMqttUrl": URL, "ThingsProMqttUrl": URL}
    assert template_parameters(both, {"ThingsProMqttUrl": ""}, URL) == {
        "ThingsProMqttUrl": "",
        "XyteMqttUrl": URL,
    }


def test_a_template_without_the_parameter_gets_no_override() -> None:
    # (an override of an undeclared parameter would stop the template from loading)
    assert template_parameters({"Parameters": {"Other": {"Type": "String"}}}, {}, URL) == {}
    assert template_parameters({}, {"Other": "x"}, URL) == {"Other": "x"}
