"""The ROCA fingerprint of RSA moduli (CVE-2017-15361).

Nemec, Sys, Svenda, Klinec and Matyas, "The Return of Coppersmith's Attack: Practical
Factorization of Widely Used RSA Moduli", ACM CCS 2017, §2-3: Infineon's RSALib built
every prime as ``k * M + (65537**a mod M)`` with ``M`` a primorial, so every modulus
``N = p * q`` is a power of 65537 modulo ``M``, and can be factored in CPU-days to
CPU-years. Random moduli almost never are.

The test is the one of the authors' detector (crocs-muni/roca, its discrete-logarithm
fingerprint): with ``M`` the product of the primes up to 167, which divides the
primorial used for every key size, ``N`` is flagged when ``N = 65537**x (mod M)`` for
some ``x``. Decided here prime by prime, in small integers: ``N mod p`` must be a power
of 65537 modulo each prime ``p`` (the detector's per-prime "prints", which reject an
honest modulus in microseconds), and the exponents found modulo each prime must agree,
that is the congruences ``x = log_p (mod ord_p)`` must have a common solution
(generalised Chinese remainder theorem), which crafted moduli that only pass the
per-prime test do not. Written here because the detector's package pulls Python 2
compatibility shims and a dozen file parsers for this one test; the tables are derived
at import, not copied.
"""

from __future__ import annotations

import math

_GENERATOR = 65537
_PRIMES = tuple(p for p in range(2, 168) if all(p % d for d in range(2, math.isqrt(p) + 1)))


def _logarithms(prime: int) -> dict[int, int]:
    """``{65537**x mod prime: x}`` for x below the order of 65537 modulo ``prime``."""
    table: dict[int, int] = {}
    value, exponent = 1, 0
    while value not in table:
        table[value] = exponent
        value, exponent = value * _GENERATOR % prime, exponent + 1
    return table


def _prime_power_parts(value: int) -> dict[int, int]:
    """``{q: q**k}`` for each prime power exactly dividing ``value``."""
    parts: dict[int, int] = {}
    factor = 2
    while value > 1:
        while value % factor == 0:
            value //= factor
            parts[factor] = parts.get(factor, 1) * factor
        factor += 1
    return parts


# Per prime p: the discrete logarithms base 65537 modulo p.
_TABLES = tuple((prime, _logarithms(prime)) for prime in _PRIMES)


def _congruence_checks() -> tuple[tuple[int, tuple[tuple[int, int], ...]], ...]:
    """For each prime q dividing an order: the index of the prime whose order holds the
    highest power of q, and (index, power of q) for every prime whose order it divides.
    Fixed by the tables, so only the logarithms vary per modulus."""
    parts = [_prime_power_parts(len(table)) for _, table in _TABLES]
    checks = []
    for q in sorted({q for part in parts for q in part}):
        powers = [(index, part[q]) for index, part in enumerate(parts) if q in part]
        highest = max(powers, key=lambda entry: entry[1])[0]
        checks.append((highest, tuple(powers)))
    return tuple(checks)


_CHECKS = _congruence_checks()


def has_roca_fingerprint(modulus: int) -> bool:
    """True when ``modulus`` is a power of 65537 modulo the primorial of 167: the
    structure of every modulus the vulnerable library made."""
    logs = []
    for prime, table in _TABLES:
        log = table.get(modulus % prime)
        if log is None:
            return False
        logs.append(log)
    # x = logs[i] (mod order_i) for all i is solvable iff, for each prime q, the
    # congruences modulo the powers of q agree with the one of the highest power.
    return not any(
        (logs[highest] - logs[index]) % power
        for highest, powers in _CHECKS
        for index, power in powers
    )
