#!/usr/bin/env python3
"""Forward a Telegram group's activity to drumbeat as member events.

Polls the Bot API (getUpdates) for one group and posts each update to drumbeat's
`POST /v1/events`: new members become `join`, leavers `leave`, a message saying
"打卡" or "/checkin" becomes `checkin`, any other text `message`. Event ids are built from
Telegram's update ids, so a retry after a crash is recognised by drumbeat as a duplicate.

Environment:
  TELEGRAM_TOKEN     the bot's token (the bot must be in the group, privacy mode off)
  DRUMBEAT_URL       e.g. http://127.0.0.1:9464/v1/events
  DRUMBEAT_TOKEN     the bearer token the daemon was started with
  COMMUNITY          the playbook's community.id

Standard library only:  python3 examples/forwarders/telegram.py
"""

import datetime
import json
import os
import time
import urllib.request

TOKEN = os.environ["TELEGRAM_TOKEN"]
DRUMBEAT_URL = os.environ["DRUMBEAT_URL"]
DRUMBEAT_TOKEN = os.environ["DRUMBEAT_TOKEN"]
COMMUNITY = os.environ["COMMUNITY"]
API = f"https://api.telegram.org/bot{TOKEN}"
CHECKIN_WORDS = ("打卡", "/checkin")


def instant(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).isoformat()


def events_of(update):
    """The drumbeat events one Telegram update stands for."""
    msg = update.get("message")
    if not msg:
        return []
    base = {"community": COMMUNITY, "at": instant(msg["date"])}
    uid = update["update_id"]
    out = []
    for i, person in enumerate(msg.get("new_chat_members", [])):
        name = " ".join(filter(None, [person.get("first_name"), person.get("last_name")]))
        out.append({**base, "id": f"tg-{uid}-join-{i}", "type": "join",
                    "member": f"tg-{person['id']}", "data": {"name": name}})
    if "left_chat_member" in msg:
        out.append({**base, "id": f"tg-{uid}-leave", "type": "leave",
                    "member": f"tg-{msg['left_chat_member']['id']}"})
    text = msg.get("text")
    if text and "from" in msg:
        member = f"tg-{msg['from']['id']}"
        if text.strip().startswith(CHECKIN_WORDS):
            out.append({**base, "id": f"tg-{uid}", "type": "checkin", "member": member})
        else:
            data = {"text": text}
            reply = msg.get("reply_to_message", {}).get("from")
            if reply:
                data["reply_to"] = f"tg-{reply['id']}"
            out.append({**base, "id": f"tg-{uid}", "type": "message", "member": member,
                        "data": data})
    return out


def post(events):
    body = json.dumps(events, ensure_ascii=False).encode()
    req = urllib.request.Request(DRUMBEAT_URL, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Authorization": f"Bearer {DRUMBEAT_TOKEN}",
    })
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.load(answer)


def main():
    offset = 0
    while True:
        url = f"{API}/getUpdates?timeout=30&offset={offset}"
        try:
            with urllib.request.urlopen(url, timeout=40) as answer:
                updates = json.load(answer)["result"]
            events = [e for u in updates for e in events_of(u)]
            if events:
                print(post(events))
            if updates:
                # Only move on once drumbeat has the events: a crash before this line
                # sends them again, and drumbeat drops the repeats by id.
                offset = updates[-1]["update_id"] + 1
        except Exception as error:  # keep forwarding through network hiccups
            print(f"will retry: {error}")
            time.sleep(5)


if __name__ == "__main__":
    main()
