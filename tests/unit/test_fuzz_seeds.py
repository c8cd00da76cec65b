"""Every operation of the table is fuzzed (tests/faults/test_fuzz.py): each has a seed in
``tests.support.fuzz_seeds``, and each seed is a valid request of its operation."""

from __future__ import annotations

import random

import pytest

from service.config import SCHEMA_DIR
from service.pipeline import OPERATIONS, TABLE, UNDERSTOOD
from service.soap.schema import SchemaSet
from tests.support import fuzz_seeds as seeds

MARKET = seeds.Market(count=7, registrations=("reg-1", "reg-2", "reg-3"))


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet(SCHEMA_DIR)


def test_every_operation_in_the_table_has_a_fuzz_seed():
    missing = [operation.name for operation in TABLE if operation.name not in seeds.SEEDS]
    assert not missing, f"no fuzz seed for {missing}: add one in tests/support/fuzz_seeds.py (@seed(name, prefix))"


def test_every_seed_is_of_an_operation_in_the_table_with_its_own_prefix():
    assert set(seeds.SEEDS) <= set(OPERATIONS)
    prefixes = [found.prefix for found in seeds.SEEDS.values()]
    assert len(set(prefixes)) == len(prefixes)


@pytest.mark.parametrize("name", sorted(seeds.SEEDS))
def test_each_seed_is_a_valid_request_of_its_operation_at_its_endpoint(schemas, name):
    operation = OPERATIONS[name]
    for index in range(40):  # the seeds' variations, drawn from the rng
        case = seeds.case(name, MARKET, index, random.Random(f"unit/{name}/{index}"))
        assert case.path == f"/{operation.endpoint}"
        assert case.payload.tag == operation.request
        assert schemas.errors(case.payload) == []
        assert case.payload.findtext("{*}requestID") == f"{seeds.SEEDS[name].prefix}-{index}"
        for header in case.headers:
            understood_with = UNDERSTOOD.get(header.tag, ())
            assert understood_with is None or operation.request in understood_with, header.tag
