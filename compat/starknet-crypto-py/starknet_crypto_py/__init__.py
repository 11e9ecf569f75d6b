"""Drop-in for ``starknet-crypto-py`` 0.2.0 (the API paradex-py calls), over crypto-cpp-py.

paradex-py signs orders with ``sign(private_key, msg_hash, seed)``: an RFC 6979 nonce derived
with ``seed`` as extra entropy, then a Stark-curve ECDSA signature ``(r, s)``. crypto-cpp-py
implements the same derivation (cairo-lang's ``generate_k_rfc6979``) and curve operations in
StarkWare's C++ library, so signatures are bit-identical to the Rust original's.
"""

from crypto_cpp_py.cpp_bindings import cpp_get_public_key, cpp_hash, cpp_sign, cpp_verify
from crypto_cpp_py.utils import EC_ORDER, cpp_inv_mod_curve_size

__all__ = ["get_public_key", "pedersen_hash", "sign", "verify"]

FIELD_PRIME = 2**251 + 17 * 2**192 + 1


def _felt(name: str, value: int) -> int:
    if not 0 <= value < FIELD_PRIME:
        raise ValueError(f"{name} must be a Stark field element (0 <= x < 2**251 + 17*2**192 + 1)")
    return value


def get_public_key(private_key: int) -> int:
    """x coordinate of ``private_key * G`` on the Stark curve."""
    return cpp_get_public_key(_felt("private_key", private_key))


def pedersen_hash(first: int, second: int) -> int:
    """Starknet's Pedersen hash of two field elements."""
    return cpp_hash(_felt("first", first), _felt("second", second))


def sign(private_key: int, msg_hash: int, seed: int) -> tuple[int, int]:
    """ECDSA ``(r, s)`` with the RFC 6979 nonce seeded by ``seed``, as starknet-crypto does."""
    return cpp_sign(_felt("msg_hash", msg_hash), _felt("private_key", private_key), seed=seed)


def verify(public_key: int, msg_hash: int, r: int, s: int) -> bool:
    """True when ``(r, s)`` signs ``msg_hash`` for ``public_key``; False for any invalid input."""
    if not (0 < r < FIELD_PRIME and 0 < s < EC_ORDER and 0 <= msg_hash < FIELD_PRIME):
        return False
    return bool(cpp_verify(msg_hash, r, cpp_inv_mod_curve_size(s), public_key))
