"""Scale presets. Behaviour (rates, durations, probabilities) is the same in every preset; only the
size of the province and the length of its history change, so tiny tests exercise the same model
the provincial benchmark does."""

from __future__ import annotations

from dataclasses import dataclass

from cww.errors import CwwError


@dataclass(frozen=True)
class Preset:
    name: str
    agencies: int
    years: float  # length of history in the shared system before as_of
    investigations_per_year: int  # province-wide target; arrivals are scaled to hit it
    waves: int  # migration waves (agencies joining the shared system on different dates)


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", agencies=3, years=1.0, investigations_per_year=900, waves=3),
    "demo": Preset("demo", agencies=6, years=2.0, investigations_per_year=6_000, waves=3),
    "provincial": Preset("provincial", agencies=50, years=5.0, investigations_per_year=80_000, waves=5),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise CwwError(f"unknown simulator preset {name!r}. Fix: use one of {', '.join(PRESETS)}.") from None
