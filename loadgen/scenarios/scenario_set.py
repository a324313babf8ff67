"""The scenarios of one profile, ready to build each planned request with its API's wire format.

`ScenarioSet(plan, credentials, seed=..., clock=...)` is what the engine calls:
`build(scenario, n)` returns a `BuiltRequest` (the request, its ordering key, its event
count). A generated scenario picks users from the population (`users.py`) and follows their
journeys; a replay scenario (`replay.py`) streams a file. Each API's format comes from the
`FORMATS` registry, keyed like the API table (`loadgen/apis.py`).

The ordering key of a generated request is the user id of the journey it belongs to (also
for its anonymous tracks, so anonymous track -> identify -> alias stay in order when
`users.ordered = true`); a batch holds many users and has no key.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from loadgen.apis import check_scenario, credential_keys
from loadgen.arrivals.plan import Plan
from loadgen.inputs.models import ScenarioSpec
from loadgen.inputs.templates import Context, compile_properties
from loadgen.scenarios.api_format import (
    SERIAL_STRIDE,
    ApiFormat,
    BuiltRequest,
    Encoder,
    Ids,
    Op,
    OpKind,
    Timeline,
)
from loadgen.scenarios.customerio import CustomerIO
from loadgen.scenarios.posthog import PostHog
from loadgen.scenarios.replay import ReplayScenario
from loadgen.scenarios.segment import Segment
from loadgen.scenarios.users import Journeys, Population

# One builder per row of the API table: (credentials, ids, api_version) -> the API's format.
FormatMaker = Callable[[Mapping[str, str], Ids, str], ApiFormat]
FORMATS: Mapping[str, FormatMaker] = {
    "posthog": lambda credentials, ids, version: PostHog(credentials, ids),
    "customerio": CustomerIO,
    "segment": lambda credentials, ids, version: Segment(credentials, ids),
}


class GeneratedScenario:
    """Builds requests from the population, the journeys and the scenario's templates."""

    __slots__ = (
        "_ctx",
        "_encoder",
        "_events",
        "_fmt",
        "_journeys",
        "_pop",
        "_props",
        "_rng",
        "_spec",
        "_timeline",
    )

    def __init__(
        self,
        spec: ScenarioSpec,
        fmt: ApiFormat,
        encoder: Encoder,
        timeline: Timeline,
        population: Population,
        journeys: Journeys,
        rng: random.Random,
    ) -> None:
        self._spec, self._fmt, self._encoder, self._timeline = spec, fmt, encoder, timeline
        self._pop, self._journeys, self._rng = population, journeys, rng
        self._props = compile_properties(spec.properties)
        self._ctx = Context(rng)
        self._events = spec.events or ("event",)

    def __repr__(self) -> str:
        return f"GeneratedScenario({self._spec.name!r}, {self._fmt!r})"

    def build(self, n: int) -> BuiltRequest:
        fmt, spec = self._fmt, self._spec
        if spec.kind == "batch" and fmt.batch_path is not None:
            size = spec.batch_size
            times = self._timeline.times(n, size)
            base = n * SERIAL_STRIDE
            wires = [fmt.wire(self._op(base + i, "track", times[i])) for i in range(size)]
            body = fmt.batch_body(wires, self._timeline.now(), spec.historical)
            return BuiltRequest(self._encoder.request("POST", fmt.batch_path, body), None, size)
        kind: OpKind = "track" if spec.kind == "batch" else spec.kind
        wire = fmt.wire(self._op(n * SERIAL_STRIDE, kind, self._timeline.time(n)))
        request = self._encoder.request(wire.method, wire.path, fmt.single_body(wire))
        return BuiltRequest(request, wire.key, 1)

    def _op(self, serial: int, kind: OpKind, ts: float) -> Op:
        """The next step of the journey of the user drawn for `serial` (see users.py)."""
        pop, journeys, fmt = self._pop, self._journeys, self._fmt
        k = pop.rank(serial)
        anonymous, alias = False, None
        if kind == "track":
            anonymous = fmt.anonymous_tracks and journeys.anonymous(k)
        elif kind == "identify":
            journeys.mark_identified(k)
        elif journeys.alias_or_identify(k):
            alias = pop.alias_id(k)
        else:
            kind = "identify"
        linked = anonymous or (kind == "identify" and fmt.anonymous_tracks)
        anon_id = pop.anon_id(k) if linked else None
        user = pop.user_id(k)
        ctx = self._ctx
        ctx.user = anon_id if anonymous and anon_id else user
        ctx.ts, ctx.native, ctx.serial = ts, fmt.native_time(ts), serial
        properties = self._props.render(ctx)
        events = self._events
        name = events[int(self._rng.random() * len(events))] if kind == "track" else kind
        return Op(kind, user, anon_id, anonymous, name, properties, ts, serial, alias)


class ScenarioSet:
    """Every scenario of a profile, ready to build requests for the engine."""

    __slots__ = ("_journeys", "_scenarios", "names", "weights")

    def __init__(
        self,
        plan: Plan,
        credentials: Mapping[str, Mapping[str, str]],
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        nonce: int | None = None,
    ) -> None:
        profile = plan.profile
        _refuse_unsendable(profile.scenarios)
        factory = _Factory(plan, credentials, seed, clock, nonce)
        self.names = [s.name for s in profile.scenarios]
        self.weights = [s.weight for s in profile.scenarios]
        self._journeys = factory.journeys
        self._scenarios: list[GeneratedScenario | ReplayScenario] = []
        try:
            for index, spec in enumerate(profile.scenarios):
                self._scenarios.append(factory.scenario(index, spec))
        except BaseException:
            self.close()  # a replay file opened before the failure
            raise

    def __repr__(self) -> str:
        return f"ScenarioSet({self.names!r})"

    def build(self, scenario: int, n: int) -> BuiltRequest:
        return self._scenarios[scenario].build(n)

    @property
    def alias_conversions(self) -> int:
        """Aliases built as the user's identify because the user was not identified yet."""
        return sum(j.conversions for j in self._journeys.values())

    @property
    def replay_skipped(self) -> dict[str, int]:
        """Malformed records skipped (`on_error = "skip"`), per replay scenario."""
        return {
            name: s.skipped
            for name, s in zip(self.names, self._scenarios, strict=False)
            if isinstance(s, ReplayScenario)
        }

    def close(self) -> None:
        for scenario in self._scenarios:
            if isinstance(scenario, ReplayScenario):
                scenario.close()


class _Factory:
    """What a profile's scenarios share: ids, population, journeys per API, API formats."""

    def __init__(
        self,
        plan: Plan,
        credentials: Mapping[str, Mapping[str, str]],
        seed: int,
        clock: Callable[[], float],
        nonce: int | None,
    ) -> None:
        profile = plan.profile
        self.profile, self.credentials, self.seed, self.clock = profile, credentials, seed, clock
        self.ids = Ids(nonce if nonce is not None else secrets.randbits(64))
        users = profile.users
        self.population = Population(users.count, users.skew, users.id_prefix, seed)
        self.planned = float(plan.schedule.total_area)  # the requests the schedule plans
        self.journeys: dict[str, Journeys] = {}
        self.formats: dict[tuple[str, str], ApiFormat] = {}
        # users start anonymous only where the profile identifies them (see users.py)
        self.identifying = {
            s.api for s in profile.scenarios if s.replay is None and s.kind in ("identify", "alias")
        }

    def scenario(self, index: int, spec: ScenarioSpec) -> GeneratedScenario | ReplayScenario:
        fmt = self.formats.get((spec.api, spec.api_version))
        if fmt is None:
            fmt = _make_format(spec, self.credentials, self.ids)
            self.formats[(spec.api, spec.api_version)] = fmt
        encoder = Encoder(fmt.headers(), spec.gzip)
        timeline = Timeline(self.clock, spec.history_s, self.planned)
        if spec.replay is not None:
            return ReplayScenario(spec, fmt, encoder, timeline, self.profile.path.parent)
        journeys = self.journeys.get(spec.api)
        if journeys is None:
            count = self.profile.users.count
            journeys = Journeys(count, anonymous_stage=spec.api in self.identifying)
            self.journeys[spec.api] = journeys
        rng = random.Random(self.seed * 1_000_003 + index)
        return GeneratedScenario(spec, fmt, encoder, timeline, self.population, journeys, rng)


def _refuse_unsendable(specs: Sequence[ScenarioSpec]) -> None:
    """The profile reader reports these with file:line; this is the last line of defence."""
    problems = [
        f"scenario {s.name!r}: {p}"
        for s in specs
        for p in check_scenario(s.api, s.kind, s.api_version, s.batch_size)
    ]
    if problems:
        raise ValueError("; ".join(problems))


def _make_format(
    spec: ScenarioSpec, credentials: Mapping[str, Mapping[str, str]], ids: Ids
) -> ApiFormat:
    values = credentials.get(spec.api)
    missing = [k for k in credential_keys(spec.api) if not (values or {}).get(k)]
    if values is None or missing:
        raise ValueError(f"no {'/'.join(missing) or 'credentials'} given for the {spec.api} API")
    return FORMATS[spec.api](values, ids, spec.api_version)


__all__ = ["FORMATS", "GeneratedScenario", "ScenarioSet"]
