"""Drop-in for ``starknet-crypto-py`` 0.2.0 (the API paradex-py calls) on CPython 3.11.

paradex-py signs orders with ``sign(private_key, msg_hash, seed)``: an RFC 6979 nonce ``k``
derived with ``seed`` as extra entropy (cairo-lang's ``generate_k_rfc6979``), then the Stark-curve
ECDSA ``r = x(k*G)``, ``s = (msg_hash + r*private_key) / k mod n``. The point multiplications run
in fast-stark-crypto (a Rust build of starknet-crypto, ~0.2 ms); Pedersen hashing and
verification in crypto-cpp-py (StarkWare's C++ library). Signatures are bit-identical to the
Rust original's.
"""

from __future__ import annotations

import hashlib
import math

import fast_stark_crypto
from crypto_cpp_py.cpp_bindings import cpp_hash, cpp_verify
from ecdsa.rfc6979 import generate_k

__all__ = ["get_public_key", "pedersen_hash", "sign", "verify"]

FIELD_PRIME = 2**251 + 17 * 2**192 + 1
EC_ORDER = 0x800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
N_ELEMENT_BITS_ECDSA = 251


def _felt(name: str, value: int) -> int:
    if not 0 <= value < FIELD_PRIME:
        raise ValueError(f"{name} must be a Stark field element (0 <= x < 2**251 + 17*2**192 + 1)")
    return value


def _nonce(msg_hash: int, private_key: int, seed: int | None) -> int:
    """cairo-lang's generate_k_rfc6979 (the hash is padded when it is one nibble short)."""
    if 1 <= msg_hash.bit_length() % 8 <= 4 and msg_hash.bit_length() >= 248:
        msg_hash *= 16
    entropy = b"" if seed is None else seed.to_bytes(math.ceil(seed.bit_length() / 8), "big")
    return generate_k(EC_ORDER, private_key, hashlib.sha256,
                      msg_hash.to_bytes(math.ceil(msg_hash.bit_length() / 8), "big"), extra_entropy=entropy)


def get_public_key(private_key: int) -> int:
    """x coordinate of ``private_key * G`` on the Stark curve."""
    return fast_stark_crypto.get_public_key(_felt("private_key", private_key))


def pedersen_hash(first: int, second: int) -> int:
    """Starknet's Pedersen hash of two field elements."""
    return cpp_hash(_felt("first", first), _felt("second", second))


def sign(private_key: int, msg_hash: int, seed: int) -> tuple[int, int]:
    """ECDSA ``(r, s)`` with the RFC 6979 nonce seeded by ``seed``, as starknet-crypto does."""
    _felt("private_key", private_key)
    _felt("msg_hash", msg_hash)
    while True:
        k = _nonce(msg_hash, private_key, seed)
        seed = 1 if seed is None else seed + 1  # a bad nonce (vanishingly rare): derive the next one
        r = fast_stark_crypto.get_public_key(k)
        if not 1 <= r < 2**N_ELEMENT_BITS_ECDSA or (msg_hash + r * private_key) % EC_ORDER == 0:
            continue
        w = k * pow(msg_hash + r * private_key, -1, EC_ORDER) % EC_ORDER
        if not 1 <= w < 2**N_ELEMENT_BITS_ECDSA:
            continue
        return r, pow(w, -1, EC_ORDER)


def verify(public_key: int, msg_hash: int, r: int, s: int) -> bool:
    """True when ``(r, s)`` signs ``msg_hash`` for ``public_key``; False for any invalid input."""
    if not (0 < r < FIELD_PRIME and 0 < s < EC_ORDER and 0 <= msg_hash < FIELD_PRIME):
        return False
    return bool(cpp_verify(msg_hash, r, pow(s, -1, EC_ORDER), public_key))
