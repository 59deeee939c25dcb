"""Spot interruption notices seen from outside the instance: EventBridge -> SQS, one queue per region.

Why outside too: the agent watches IMDS, but an agent that hangs or a host that dies sends
nothing; the daemon still learns of the reclaim from EventBridge within seconds. `setup` is
idempotent (every call is create-or-update), so `spotwise providers setup aws` can be rerun.

Delivery is at least once: messages are deleted after parsing, and a notice lost after that
is still caught by describe's StateReason (Server.SpotInstanceTermination).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from botocore import exceptions as bex

from providers.aws.errors import SDK_ERRORS, classify, error_code, translated
from providers.aws.session import ClientFactory
from providers.base import Interruption

log = logging.getLogger(__name__)

SPOT_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE = "EC2 Instance Rebalance Recommendation"
NOTICE = timedelta(minutes=2)
EVENT_PATTERN = {"source": ["aws.ec2"], "detail-type": [SPOT_WARNING, REBALANCE]}
_MAX_ROUNDS = 20  # 10 messages per receive: at most 200 notices per drain, the rest wait for the next


def _queue_policy(queue_arn: str, rule_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "spotwise-eventbridge",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }],
    })


def setup_region(clients: ClientFactory, region: str, *, queue: str, rule: str) -> str:
    """Create or update the queue, the rule and the target in one region; returns the queue URL."""
    sqs = clients.client("sqs", region)
    events = clients.client("events", region)
    with translated():
        url = sqs.create_queue(QueueName=queue, Attributes={"MessageRetentionPeriod": "3600"})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(
            Name=rule, EventPattern=json.dumps(EVENT_PATTERN), State="ENABLED",
            Description="Spotwise: spot interruption warnings and rebalance hints to SQS",
        )["RuleArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _queue_policy(queue_arn, rule_arn)})
        events.put_targets(Rule=rule, Targets=[{"Id": "spotwise-queue", "Arn": queue_arn}])
    return url


def parse_event(body: str) -> Interruption | None:
    """One EventBridge event (the SQS message body) -> Interruption, or None if it is not ours to read."""
    try:
        event = json.loads(body)
        kind = {SPOT_WARNING: "preemption", REBALANCE: "rebalance"}.get(event.get("detail-type", ""))
        instance_id = event.get("detail", {}).get("instance-id")
        if kind is None or not instance_id:
            return None
        noticed = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Interruption(
        instance_id=str(instance_id), kind=kind, noticed_at=noticed,
        deadline=noticed + NOTICE if kind == "preemption" else None,
    )


def queue_url(clients: ClientFactory, region: str, queue: str) -> str | None:
    """The queue's URL, or None when setup has not been run in this region."""
    try:
        return str(clients.client("sqs", region).get_queue_url(QueueName=queue)["QueueUrl"])
    except bex.ClientError as exc:
        if error_code(exc) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise classify(exc) from exc
    except SDK_ERRORS as exc:
        raise classify(exc) from exc


def drain(clients: ClientFactory, region: str, url: str) -> list[Interruption]:
    """Receive everything waiting (no long poll: the daemon calls this on a schedule) and delete it."""
    sqs = clients.client("sqs", region)
    found: list[Interruption] = []
    with translated():
        for _ in range(_MAX_ROUNDS):
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                notice = parse_event(message.get("Body", ""))
                if notice is None:
                    log.warning("ignoring a message that is not an EC2 interruption event (id %s)",
                                message.get("MessageId"))
                else:
                    found.append(notice)
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ])
    return found
