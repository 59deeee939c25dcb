"""The AWS provider: spot and on-demand GPU capacity through boto3.

Modules, one job each: `config` (the strict config section), `session` (clients with retries and
timeouts), `errors` (code -> taxonomy table), `gpus` (canonical GPU names), `offers` (types x
zones x live spot prices), `pricing` (on-demand prices with a built-in fallback), `advisor`
(Spot Instance Advisor priors), `scores` (spot placement scores), `launch` (the run_instances
request), `instances` (describe / list / terminate in batches), `interruptions` (EventBridge ->
SQS notices), `provider` (the Provider protocol, wiring the rest).
"""

from providers.aws.provider import AWSProvider

__all__ = ["AWSProvider"]
