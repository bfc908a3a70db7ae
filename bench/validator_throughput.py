"""Section 1: validations per second on one core, oidc-spa/server vs Python validators.

Every implementation runs in its own process pinned to the measured core, one process
per (implementation, case, round): the rounds interleave the implementations, so a
noisy neighbour slows all of them alike. Each process does one warm-up run, then one
timed run; the orchestrator collects ``runs`` rounds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auth.testing import DpopKey, TestIssuer
from bench import profiling
from bench.cores import MEASURED_CORE, on_core
from bench.fixtures import TOKEN_LIFETIME, dpop_fixture, validator_fixture, write_json
from bench.stats import ROOT, paired_ratio, summary

PEER = ROOT / "bench" / "peer"
IMPLEMENTATIONS = ("oidc-spa", "auth", "pyjwt", "joserfc", "floor")
CASES = {
    "rs256_repeated": ("RS256 Bearer, same token every call", 20.0),
    "es256_repeated": ("ES256 Bearer, same token every call", 20.0),
    "rs256_new": ("RS256 Bearer, new token every call", 1.2),
    "es256_new": ("ES256 Bearer, new token every call", 1.2),
    "dpop": ("ES256 DPoP token + fresh proof + replay check", 2.0),
}


@dataclass(frozen=True)
class Settings:
    runs: int = 5
    seconds: float = 1.0  # per timed run of the repeated-token cases
    new_tokens: int = 3000  # per batch of the new-token cases
    proofs: int = 3000  # per batch of the DPoP case
    #: py-spy profile of ``auth`` on the new-token cases and every case that misses its goal
    profile: bool = True


def _command(impl: str, case: str, fixture: Path, seconds: float) -> list[str]:
    if impl == "oidc-spa":
        return ["node", str(PEER / "validate.mjs"), case, str(fixture), str(seconds)]
    return [
        sys.executable,
        "-m",
        "bench.validators",
        impl,
        case,
        str(fixture),
        "--seconds",
        str(seconds),
    ]


def _one_run(impl: str, case: str, fixture: Path, seconds: float) -> float:
    result = subprocess.run(
        on_core(MEASURED_CORE, _command(impl, case, fixture, seconds)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{impl} {case} failed:\n{result.stderr[-2000:]}")
    runs: list[float] = json.loads(result.stdout.strip().splitlines()[-1])["ops_per_s"]
    return runs[0]


def run(issuer: TestIssuer, settings: Settings, log: Any = print) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-validators-"))
    # One warm-up batch and one timed batch per process; every process starts with an
    # empty cache, so the same batches serve every round.
    fixture = validator_fixture(issuer, runs=1, new_tokens=settings.new_tokens)
    fixture["runs"] = 1
    bearer_path = write_json(workdir / "bearer.json", fixture)
    dpop_key = DpopKey()
    dpop_token = issuer.token(
        "spa-user", alg="ES256", dpop_key=dpop_key, exp=int(time.time()) + TOKEN_LIFETIME
    )
    results: dict[str, dict[str, list[float]]] = {
        case: {impl: [] for impl in IMPLEMENTATIONS} for case in CASES
    }
    for round_number in range(settings.runs):
        for case in CASES:
            for impl in IMPLEMENTATIONS:
                path = bearer_path
                if case == "dpop":  # fresh proofs right before the process that uses them
                    proofs = dpop_fixture(
                        issuer, dpop_key, dpop_token, runs=1, proofs=settings.proofs
                    )
                    proofs["runs"] = 1
                    path = write_json(workdir / "dpop.json", proofs)
                value = _one_run(impl, case, path, settings.seconds)
                results[case][impl].append(value)
                log(
                    f"  validators round {round_number + 1}/{settings.runs} "
                    f"{case:15} {impl:9} {value:12,.0f}/s"
                )
    rows = []
    for case, (label, target) in CASES.items():
        figures = {impl: summary(values) for impl, values in results[case].items()}
        measured = paired_ratio(results[case]["auth"], results[case]["oidc-spa"])
        rows.append(
            {
                "case": case,
                "label": label,
                "unit": "validations/s",
                "figures": figures,
                "ratio_to_peer": measured,
                "target_ratio": target,
                "met": measured is not None and measured >= target,
            }
        )
    if settings.profile and profiling.available():
        for row in rows:
            if not row["met"] or row["case"].endswith("_new"):
                path = bearer_path
                if row["case"] == "dpop":
                    proofs = dpop_fixture(
                        issuer, dpop_key, dpop_token, runs=1, proofs=settings.proofs
                    )
                    path = write_json(workdir / "dpop.json", proofs)
                _, row["profile"] = profiling.profile_command(
                    _command("auth", row["case"], path, settings.seconds * 3), ROOT, MEASURED_CORE
                )
    return rows
