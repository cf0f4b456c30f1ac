"""The twistd service maker: options, the service tree, and how a virtual run ends."""

from __future__ import annotations

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage

from emulator.service import EmulationService, Options, makeService
from tests.han_helpers import SINGLE_HOME


def _options(*args: str) -> Options:
    opts = Options()
    opts.parseOptions(["--topology", str(SINGLE_HOME), *args])
    return opts


@pytest.mark.parametrize("args, words", [
    ([], "--topology: a topology file is required"),
    (["--topology", str(SINGLE_HOME), "--virtual"], "--duration: is required with --virtual"),
    (["--topology", str(SINGLE_HOME), "--duration", "-5"], "--duration: must be positive"),
    (["--topology", str(SINGLE_HOME), "--duration", "nan"], "--duration: must be a finite number"),
    (["--topology", str(SINGLE_HOME), "--metrics-port", "70000"], "--metrics-port: must be 0-65535"),
    (["--topology", str(SINGLE_HOME), "--seed", "x1"], "--seed: must be an integer"),
])
def test_bad_options(args: list[str], words: str) -> None:
    """Bad command lines are usage errors that say what is wrong."""
    with pytest.raises(usage.UsageError, match=words):
        Options().parseOptions(args)


def test_service_tree() -> None:
    """makeService builds the emulation and, with --metrics-port, a named metrics listener."""
    reactor = MemoryReactorClock()
    top = makeService(_options("--virtual", "--duration", "60", "--metrics-port", "0"), reactor=reactor)
    assert top.getServiceNamed("emulation") is not None
    assert top.getServiceNamed("metrics") is not None
    assert makeService(_options("--virtual", "--duration", "60"), reactor=reactor).namedServices.keys() \
        == {"emulation"}


def _run_virtual(opts: Options) -> EmulationService:
    reactor = MemoryReactorClock()
    svc = EmulationService(opts, reactor)
    svc.startService()
    reactor.running = reactor.hasRun = True  # MemoryReactor.run() would stop at once
    for f, args, kw in reactor.whenRunningHooks:
        f(*args, **kw)  # builds the estate, runs the first slice of virtual time
    for _ in range(1000):
        if not reactor.running:
            break
        reactor.advance(0)
    assert not reactor.running, "the virtual run stops the reactor when the duration is over"
    return svc


def test_virtual_run_ends_cleanly() -> None:
    """A healthy virtual run closes the estate and leaves exit code 0."""
    svc = _run_virtual(_options("--virtual", "--duration", "900"))
    assert svc.exit_code == 0 and svc._estate.closed
    assert svc._estate.homes[0].nodes["ihd"].reads_answered > 50


def test_virtual_run_with_a_raising_call_fails(monkeypatch) -> None:
    """A call that raises is logged and counted, the run goes on, and the exit code is 1."""
    from emulator.estate import Estate

    start = Estate.start

    def start_with_a_bug(self) -> None:
        start(self)
        self.clock.callLater(5.0, lambda: 1 / 0)

    monkeypatch.setattr(Estate, "start", start_with_a_bug)
    svc = _run_virtual(_options("--virtual", "--duration", "600"))
    assert svc._estate.errors == 1
    assert svc.exit_code == 1
    assert svc._estate.homes[0].nodes["ihd"].reads_answered > 25  # the run went on
