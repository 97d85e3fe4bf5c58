"""A schemathesis fuzz of the gateway's whole OpenAPI (app.openapi()) against a live gateway
on PostgreSQL, signed in as an admin so the staff routes are reached: valid and invalid
requests to every operation, and no answer may be a server error (schemathesis's
`not_a_server_error` check).

Bounded: EXAMPLES valid and EXAMPLES invalid requests per operation (about 60 s here). No
Rasa behind the gateway: the dialogue answers "try again shortly", which keeps the fuzz fast;
what Rasa does with odd text is in test_customer_messages.py.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup

from bot.limits import Limiters
from kefu_config.settings import Settings
from tests.bad_input.conftest import ADA, bearer

EXAMPLES = 12


def test_no_operation_answers_with_a_server_error(bare_gateway):
    # Rate limits would turn most sign-in attempts into 429s before they reach the checks
    # behind them; they have tests of their own (tests/security).
    generous = Settings(login_ip_max_failures=10**6, rest_sender_max=10**6,
                        rest_ip_max=10**6)
    bare_gateway.app.state.limiters = Limiters(generous)
    headers = bearer(bare_gateway, ADA)
    schema = schemathesis.openapi.from_dict(bare_gateway.app.openapi())
    # Signing out ends the admin's token: that operation goes last.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: op.label == "POST /api/auth/logout")
    assert len(operations) >= 25, [op.label for op in operations]
    failures: list[str] = []
    tried: dict[str, int] = {}

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call(base_url=bare_gateway.url, headers=headers, timeout=30)
                tried[operation.label] = tried.get(operation.label, 0) + 1
                try:
                    case.validate_response(response, checks=[not_a_server_error],
                                           headers=headers)
                except (Failure, FailureGroup) as exc:
                    # Keep going: one run lists every operation that fails, with a request
                    # to reproduce it.
                    failures.append(f"{operation.label}: {response.status_code} "
                                    f"{response.text[:300]}\n  {case.as_curl_command()}\n"
                                    f"  {str(exc)[:300]}")

            try:
                fuzz()
            except Unsatisfiable:
                # An operation with nothing to get wrong (no parameters, no body) has no
                # invalid requests; its valid ones were sent.
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:20])
    # Every operation was really called (a strategy that could not generate would not fail).
    assert set(tried) == {op.label for op in operations}
