from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, negative_data_rejection

from ledger import operations

OPS = ["/api/v1/pots", "/api/v1/pots/{slug}", "/api/v1/pots/{slug}/entries", "/api/v1/pots/{slug}/entries/{seq}"]

@pytest.mark.parametrize("path", OPS)
def test_fuzz(app, db, pot_slug, path):
    with db.write() as s:
        operations.record(s, pot_slug, "contribution", 1000, memo="m", actor="a")
        operations.record(s, pot_slug, "fee", 10, memo="m", actor="a")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    op = schema[path]["GET"]
    strats = [op.as_strategy(), op.as_strategy(GenerationMode.NEGATIVE)]
    if "{slug}" in path:
        strats.append(op.as_strategy(path_parameters={"slug": pot_slug}))
    failures = []

    @given(case=st.one_of(strats))
    @settings(max_examples=200, deadline=None, database=None, phases=[Phase.generate],suppress_health_check=list(HealthCheck))
    def run(case):
        try:
            resp = case.call_and_validate(checks=[not_a_server_error, negative_data_rejection])
        except Exception as e:
            failures.append((case.formatted_path, case.query, str(e)[:300]))
            return
        #print(case.formatted_path, case.query, resp.status_code)
    run()
    for f in failures[:30]:
        print(f)
    print(len(failures))
