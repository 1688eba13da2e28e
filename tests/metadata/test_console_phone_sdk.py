"""The console phone (LWC lineVoiceDevice) and the customer's web-call page run the same Twilio Voice SDK."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_static_resource_is_the_sdk_the_relay_serves():
    relay = ROOT / "connector/web/static/twilio-voice-sdk.min.js"
    resource = ROOT / "sfdc_metadata/force-app/main/default/staticresources/LINE_Twilio_Voice_SDK.js"
    assert resource.read_bytes() == relay.read_bytes(), "run `make voice-sdk` to vendor both copies"
