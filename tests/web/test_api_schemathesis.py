"""The API keeps its schema: schemathesis (as a library) generates requests for every operation from
/api/schema/ and sends them to the live test server, as a user and as staff, with all its checks: no
server error, every status code, content type, header and body as documented, schema-valid requests
accepted and invalid ones refused.

Four operations are exempt from "schema-valid requests are accepted" only: a token request with made-up
credentials, an upload whose bytes are not a video, a run whose model/train options ml.config
refuses (its ranges and combinations are more than a JSON schema says) and a ratings file whose bytes
are not a ratings CSV are well-formed and still rightly refused (400 with the reason); every other
check runs on them too.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from trailers.models import TrainingRun  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 15  # per operation and role
CONTENT_DEPENDENT = {"POST /api/token/", "POST /api/trailers/", "POST /api/runs/", "POST /api/ratings/import/"}


@pytest.fixture
def some_data(make_trailer, make_run, make_version, make_prediction, user):
    """Rows for the generated ids to find now and then: trailers, a run, a version with predictions."""
    trailers = [make_trailer() for _ in range(3)]
    version = make_version(number=1, run=make_run(status=TrainingRun.Status.SUCCEEDED), active=True)
    for trailer in trailers:
        make_prediction(version, trailer, 6.0)
    make_run(status=TrainingRun.Status.RUNNING)
    return trailers


def check_operation(operation, headers: dict, failures: list[str], after=lambda: None) -> int:
    """Send EXAMPLES generated requests to one operation; collect what fails; return how many were sent.
    ``after`` runs after each request (it puts back what one may have taken: the token it sends)."""
    excluded = [positive_data_acceptance] if operation.label in CONTENT_DEPENDENT else []
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(headers=headers, excluded_checks=excluded)
        finally:
            after()

    try:
        check()  # Hypothesis stops at an operation's first failure and shrinks it
    except Exception as exc:  # every operation's failure is collected, then reported together
        failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return sent


@pytest.mark.parametrize("who", ["user", "staff_user"])
def test_the_api_answers_as_its_schema_says(live_server, request, who, some_data):
    account = request.getfixturevalue(who)
    token, _ = Token.objects.get_or_create(user=account)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]

    def keep_token():  # DELETE /api/token/ revokes it: the operations after it must still be sent as this account
        if not Token.objects.filter(key=token.key).exists():
            Token.objects.filter(user=account).delete()  # a POST since may have made another
            Token.objects.create(user=account, key=token.key)

    cases = sum(check_operation(op, {"Authorization": f"Token {token.key}"}, failures, keep_token)
                for op in operations)
    print(f"schemathesis as {who}: {len(operations)} operations, {cases} cases, {len(failures)} failures")
    assert len(operations) >= 15 and cases >= EXAMPLES * 10 and not failures, "\n\n".join(failures[:5])
