"""Delivery channels behind one interface: `reaches(user)` and `deliver(notification, user)`.

In-app needs nothing beyond the Notification row. E-mail goes through SMTP (smtplib), SMS through
an HTTP gateway that takes a JSON POST. Both external channels carry the notification's dedupe key
(Message-ID, `id` field), so a provider that deduplicates can drop the resend that follows a worker
killed between sending and recording the delivery.
"""
from __future__ import annotations

import hashlib
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from gridgov.models import Notification, User


class DeliveryError(Exception):
    """The channel refused or could not be reached; the job fails and rq retries it."""


class Channel(Protocol):
    name: str

    def reaches(self, user: User) -> bool: ...

    def deliver(self, notification: Notification, user: User) -> None: ...


class InAppChannel:
    """The row itself is the message; the message centre lists it."""

    name = "inapp"

    def reaches(self, user: User) -> bool:
        return True

    def deliver(self, notification: Notification, user: User) -> None:
        return None


class EmailChannel:
    name = "email"

    def __init__(self, config: dict):
        self.host = config["SMTP_HOST"]
        self.port = int(config["SMTP_PORT"])
        self.user = config.get("SMTP_USER", "")
        self.password = config.get("SMTP_PASSWORD", "")
        self.starttls = bool(config.get("SMTP_STARTTLS"))
        self.sender = config["MAIL_FROM"]
        self.timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])

    def reaches(self, user: User) -> bool:
        return bool(user.email)

    def deliver(self, notification: Notification, user: User) -> None:
        message = EmailMessage()
        message["Subject"] = notification.title
        message["From"] = self.sender
        message["To"] = user.email
        digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:24]
        message["Message-ID"] = make_msgid(idstring=digest, domain="gridgov")
        message.set_content(notification.body or notification.title)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {exc}") from exc


class SmsGatewayChannel:
    """POST {"to", "text", "id"} as JSON; any 2xx answer means accepted."""

    name = "sms"

    def __init__(self, config: dict):
        self.url = config["SMS_GATEWAY_URL"]
        self.token = config.get("SMS_GATEWAY_TOKEN", "")
        self.timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])

    def reaches(self, user: User) -> bool:
        return bool(user.phone)

    def deliver(self, notification: Notification, user: User) -> None:
        text = notification.title if not notification.body else f"{notification.title}：{notification.body}"
        body = json.dumps({"to": user.phone, "text": text, "id": notification.dedupe_key}, ensure_ascii=False)
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"sms gateway {self.url}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"sms gateway {self.url} answered {status}")


def configured_channels(config: dict) -> dict[str, Channel]:
    """The channels this deployment can use: in-app always, the others when configured."""
    channels: dict[str, Channel] = {"inapp": InAppChannel()}
    if config.get("SMTP_HOST"):
        channels["email"] = EmailChannel(config)
    if config.get("SMS_GATEWAY_URL"):
        channels["sms"] = SmsGatewayChannel(config)
    return channels
