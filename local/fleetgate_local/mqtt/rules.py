"""The AWS IoT rules engine of the local stack: every ``AWS::IoT::TopicRule`` of the template, run on
every message the MQTT front taps and every ``iot-data`` Publish the bridge takes.

- A rule's resolved ``Sql`` (version 2016-03-23, ``fleetgate_local.mqtt.sql``) selects the messages and
  builds the event; each ``Lambda`` action invokes its function (by ARN, any function of the template)
  **asynchronously**: the message's sender never waits for it. As Lambda does for an asynchronous
  invocation, a failed one is tried 2 more times (after ``retry_delays``: AWS waits about 1 and 2
  minutes, the local stack 1 and 2 seconds), then sent to the function's ``DeadLetterQueue`` (SQS) as
  Lambda sends it: the event as the body, ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` attributes.
- When a rule cannot run an action (no such function in the template, a SELECT that cannot be built),
  its ``ErrorAction`` (``Sqs``) gets AWS's error-action message: ``{ruleName, topic, cloudwatchTraceId,
  clientId, base64OriginalPayload, failures: [{failedAction, failedResource, errorMessage}]}``.
- Disabled rules and actions of other kinds are skipped (logged once at start).

Every rule is parsed when the stack starts: SQL outside the supported subset stops the start with the
rule's name (``TemplateError``), not the first message.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fleetgate_local.intrinsics import TemplateError, as_text
from fleetgate_local.mqtt.sql import MessageContext, SqlError, Statement, parse
from fleetgate_local.resources import Provisioned
from fleetgate_local.template import Template

SQL_VERSION = "2016-03-23"
RETRY_DELAYS_S = (1.0, 2.0)
Invoke = Callable[[str, dict[str, Any]], Any]  # (function logical id, event) -> result; raises on failure


@dataclass(frozen=True)
class Action:
    function_arn: str
    function: str | None  # logical id; None when the ARN names no function of the template


@dataclass(frozen=True)
class Rule:
    logical_id: str
    name: str  # the rule's physical name (ruleName)
    statement: Statement
    actions: tuple[Action, ...]
    error_queue: str | None  # ErrorAction.Sqs.QueueUrl
    error_base64: bool = False  # ErrorAction.Sqs.UseBase64


def template_rules(template: Template, provisioned: Provisioned, log: Callable[[str], None]) -> list[Rule]:
    """The template's enabled topic rules, resolved against the provisioned resources."""
    functions = {
        provisioned.attributes[spec.logical_id]["Arn"]: spec.logical_id for spec in template.functions()
    }
    rules = []
    for logical_id, resource in template.resources().items():
        if resource["Type"] != "AWS::IoT::TopicRule":
            continue
        properties = template.resolve(
            resource["Properties"], provisioned.physical_ids, provisioned.attributes
        )
        payload = properties.get("TopicRulePayload") or {}
        if payload.get("RuleDisabled") in (True, "true"):
            log(f"rule {logical_id} is disabled: not run")
            continue
        version = as_text(payload.get("AwsIotSqlVersion", "2015-10-08"))
        if version != SQL_VERSION:
            raise TemplateError(
                f"{logical_id}: only AwsIotSqlVersion {SQL_VERSION} runs locally, not {version}"
            )
        try:
            statement = parse(as_text(payload.get("Sql", "")))
        except SqlError as error:
            raise TemplateError(f"{logical_id}: {error}") from None
        actions = []
        for action in payload.get("Actions") or []:
            if "Lambda" not in action:
                log(f"rule {logical_id}: {', '.join(action)} actions are not run locally")
                continue
            arn = as_text(action["Lambda"]["FunctionArn"])
            actions.append(Action(arn, functions.get(arn)))
        sqs = (payload.get("ErrorAction") or {}).get("Sqs") or {}
        rules.append(
            Rule(
                logical_id,
                provisioned.physical_ids.get(logical_id, logical_id),
                statement,
                tuple(actions),
                as_text(sqs["QueueUrl"]) if "QueueUrl" in sqs else None,
                sqs.get("UseBase64") in (True, "true"),
            )
        )
    return rules


def dead_letter_queues(template: Template, provisioned: Provisioned) -> dict[str, str]:
    """Function logical id -> the queue URL of its ``DeadLetterQueue`` (SQS targets only)."""
    urls_by_arn = {
        provisioned.attributes[lid].get("Arn"): provisioned.physical_ids[lid]
        for lid, kind in provisioned.types.items()
        if kind == "AWS::SQS::Queue"
    }
    queues = {}
    for spec in template.functions():
        target = template.resources()[spec.logical_id]["Properties"].get("DeadLetterQueue")
        if not target:
            continue
        resolved = template.resolve(target, provisioned.physical_ids, provisioned.attributes)
        if as_text(resolved.get("Type", "")) == "SQS" and as_text(resolved.get("TargetArn")) in urls_by_arn:
            queues[spec.logical_id] = urls_by_arn[as_text(resolved["TargetArn"])]
    return queues


class RuleRunner:
    """Runs messages through the rules on a pool of threads; ``submit`` never blocks on a function."""

    def __init__(
        self,
        rules: list[Rule],
        invoke: Invoke,
        dead_letters: dict[str, str],
        sqs: Any,
        log: Callable[[str], None],
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_S,
        threads: int = 8,
    ) -> None:
        self.rules = rules
        self._invoke = invoke
        self._dead_letters = dead_letters
        self._sqs = sqs
        self._log = log
        self._retry_delays = retry_delays
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rules")
        self._closed = threading.Event()
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, message: MessageContext) -> None:
        """Run ``message`` through every matching rule, in the background."""
        self._start(self._route, message)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is in flight (for tests and tools)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, work: Callable[..., None], *args: Any) -> None:
        if self._closed.is_set():
            return
        with self._idle:
            self._pending += 1
        try:
            self._pool.submit(self._guarded, work, *args)
        except RuntimeError:  # the pool is shut down: the stack is stopping
            self._done()

    def _guarded(self, work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except Exception as error:  # noqa: BLE001 - a failure here must not kill the pool's thread
            self._log(f"rules: {type(error).__name__}: {error}")
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _route(self, message: MessageContext) -> None:
        for rule in self.rules:
            if not rule.statement.matches(message.topic):
                continue
            try:
                event = rule.statement.evaluate(message)
            except SqlError as error:
                self._error_action(rule, message, [(a.function_arn, str(error)) for a in rule.actions])
                continue
            if event is None:
                continue  # WHERE is not true
            for action in rule.actions:
                if action.function is None:
                    reason = f"Function not found: {action.function_arn}"
                    self._error_action(rule, message, [(action.function_arn, reason)])
                    continue
                self._log(f"rule {rule.logical_id} -> {action.function}")
                self._start(self._invoke_async, action.function, event)

    def _invoke_async(self, function: str, event: Any) -> None:
        request_id = str(uuid.uuid4())
        error: Exception | None = None
        for attempt in range(len(self._retry_delays) + 1):
            if attempt and self._closed.wait(self._retry_delays[attempt - 1]):
                return
            try:
                self._invoke(function, event)
                return
            except Exception as failure:  # noqa: BLE001 - any failure is retried, as Lambda retries
                error = failure
                self._log(f"rules: {function} failed (attempt {attempt + 1}): {failure}")
        queue = self._dead_letters.get(function)
        if queue is None:
            self._log(
                f"rules: {function} failed {len(self._retry_delays) + 1} times; it has no dead-letter queue"
            )
            return
        self._sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error)[:1024] or "Unhandled"},
            },
        )

    def _error_action(self, rule: Rule, message: MessageContext, failures: list[tuple[str, str]]) -> None:
        if rule.error_queue is None:
            self._log(f"rules: {rule.logical_id} failed and has no error action: {failures}")
            return
        body = json.dumps(
            {
                "ruleName": rule.name,
                "topic": message.topic,
                "cloudwatchTraceId": str(uuid.uuid4()),
                "clientId": message.client_id,
                "base64OriginalPayload": base64.b64encode(message.payload).decode(),
                "failures": [
                    {"failedAction": "LambdaAction", "failedResource": arn, "errorMessage": reason}
                    for arn, reason in failures
                ],
            }
        )
        if rule.error_base64:
            body = base64.b64encode(body.encode()).decode()
        self._sqs.send_message(QueueUrl=rule.error_queue, MessageBody=body)


def now_ms() -> int:
    return int(time.time() * 1000)
