import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _own_run_store_one_process(tmp_path_factory, monkeypatch):
    """Every test gets a run store of its own (a run trained by one test is never copied into another's folders) and
    trains grid points one after another unless it asks for parallel processes ($VITOK_WORKERS): tests stay apart
    and the suite's time does not depend on how many cores CI has."""
    monkeypatch.setenv("VITOK_RUN_STORE", str(tmp_path_factory.mktemp("run_store")))
    monkeypatch.setenv("VITOK_WORKERS", "1")


@pytest.fixture(autouse=True, scope="session")
def _no_user_run_store(tmp_path_factory):
    """Fixtures wider than one test (a module's gallery run) start before the per-test store above: they get a store of
    the session's own, so the suite never writes into the user's run store (~/.cache/vitok/runs)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VITOK_RUN_STORE", str(tmp_path_factory.mktemp("session_run_store")))
        yield
