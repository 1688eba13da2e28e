"""Demo steps: an admin changes custom metadata in the (sandbox) org and the bot's behaviour
changes without a restart; an invalid record keeps the last good settings and is reported.

Runs on a stack of its own with `settings_sync.enabled` (the main demo's channels keep the YAML's
settings), with its real web process and worker: the admin's save reaches the relay through the
signed `settings.changed` callout (docs/configuration.md).
"""

from __future__ import annotations

import time

from connector.local.devstack import LocalStack

CUSTOMERS = ["U" + c * 32 for c in "789"]
NEW_WELCOME = "お問い合わせありがとうございます。本日は混み合っており、ご返信まで1時間ほどいただきます。"


def settings_steps(step) -> dict[str, bool]:
    from connector.local.demo_voice import signed_callout
    from connector.runtime import SYNCED_CHECK_S, Runtime

    overrides = {"settings_sync": {"enabled": True, "interval_seconds": 3600}}
    with LocalStack(channels=1, workers=1, overrides=overrides) as stack:
        line, sf = stack.sandbox.line, stack.sandbox.salesforce
        channel = stack.channels[0].channel_id
        secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
        store = Runtime(stack.load_config()).store
        saves = []

        def customer_writes(user: str) -> str:
            line.send_user_message(channel, user, {"type": "text", "text": "返品したいのですが"})
            stack.wait_until(lambda: line.delivered(user_id=user), what="the reply on LINE")
            text = line.delivered(user_id=user)[-1]["messages"][0]["text"]
            print(f"  customer → LINE: 「返品したいのですが」   LINE → customer: 「{text}」")
            return text

        def admin_saves(type_name: str, name: str, what: str, **values) -> None:
            [record] = sf.find(type_name, DeveloperName=name)
            sf.update(type_name, record["Id"], values)
            saves.append(name)
            print(f"  admin (Setup → Custom Metadata Types): {type_name} {name}: {what}")
            answer = signed_callout(stack, secret, "settings.changed", f"save-{len(saves)}", {})
            print(f"  Salesforce → relay: signed settings.changed callout (answered {answer.status_code})")

        def status(key: str) -> dict | None:
            rows = sf.find("LINE_Connector_Status__c", Status_Key__c=key)
            return rows[0] if rows else None

        step("Settings in Salesforce: a stack whose relay follows the admin's custom metadata (settings_sync)")
        stack.wait_until(lambda: status("config:settings-sync"), 30, what="the first settings sync")
        before = customer_writes(CUSTOMERS[0])

        step("The admin rewrites the welcome text (LINE_Text ja_welcome) and saves")
        admin_saves("LINE_Text__mdt", "ja_welcome", f"Text__c =「{NEW_WELCOME}」", Text__c=NEW_WELCOME)
        stack.wait_until(lambda: NEW_WELCOME in str(store.synced_settings()[1]), 30, what="the sync")
        time.sleep(SYNCED_CHECK_S + 0.5)  # every process looks for synced settings this often
        after = customer_writes(CUSTOMERS[1])

        step("The admin saves opening hours that end before they start (Monday 19:00-10:00)")
        admin_saves("LINE_Business_Hours__mdt", "Default", "Monday__c = 19:00-10:00", Monday__c="19:00-10:00")
        problem = stack.wait_until(
            lambda: (s := status("config:LINE_Business_Hours__mdt.Default")) and s["Severity__c"] == "Error" and s,
            30,
            what="the problem reported",
        )
        print(f"  LINE_Connector_Status__c {problem['Status_Key__c']}: {problem['Severity__c']}")
        print(f"    「{problem['Message__c']}」")
        kept = customer_writes(CUSTOMERS[2])

        return {
            "an admin's new text reaches the next customer without a restart": before != after == NEW_WELCOME,
            "an invalid record is reported on a Connector status record": problem["Severity__c"] == "Error",
            "the last good settings stay in force meanwhile": kept == NEW_WELCOME,
        }
