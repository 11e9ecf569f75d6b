"""Independent Stark-curve helpers for tests: ECDSA verify in pure Python, Starknet typed-data
hashing over fast-stark-crypto's Pedersen, and published test vectors.

None of this shares code with paradex-py or the compat drop-in (crypto-cpp-py), so a signature
that verifies here was made correctly, not merely consistently.
"""

from __future__ import annotations

from collections.abc import Sequence

import fast_stark_crypto
from eth_utils import keccak

# --- an independent Stark-curve ECDSA in pure Python (public curve constants) -----------------
P = 2**251 + 17 * 2**192 + 1
ALPHA = 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
N = 0x800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
G = (0x1EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA,
     0x5668060AA49730B7BE4801DF46EC62DE53ECD11ABE43A32873000C36E8DC1F)


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0]:
        if (a[1] + b[1]) % P == 0:
            return None
        lam = (3 * a[0] * a[0] + ALPHA) * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def _mul(k: int, pt: tuple[int, int]) -> tuple[int, int] | None:
    acc: tuple[int, int] | None = None
    add: tuple[int, int] | None = pt
    while k:
        if k & 1:
            acc = _add(acc, add)
        add = _add(add, add)
        k >>= 1
    return acc


def _y_of(x: int) -> int:
    y2 = (x**3 + ALPHA * x + BETA) % P
    y = pow(y2, (P + 1) // 4, P) if P % 4 == 3 else _sqrt_mod(y2)
    assert y * y % P == y2
    return y


def _sqrt_mod(a: int) -> int:
    """Tonelli-Shanks (the Stark prime is 1 mod 4)."""
    q, s = P - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 2
    while pow(z, (P - 1) // 2, P) != P - 1:
        z += 1
    m, c, t, r = s, pow(z, q, P), pow(a, q, P), pow(a, (q + 1) // 2, P)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % P
            i += 1
        b = pow(c, 1 << (m - i - 1), P)
        m, c, t, r = i, b * b % P, t * b * b % P, r * b % P
    return r


def py_public_key(priv: int) -> int:
    pt = _mul(priv, G)
    assert pt is not None
    return pt[0]


def py_verify(pub_x: int, msg_hash: int, r: int, s: int) -> bool:
    w = pow(s, -1, N)
    y = _y_of(pub_x)
    for q in ((pub_x, y), (pub_x, P - y)):
        pt = _add(_mul(msg_hash * w % N, G), _mul(r * w % N, q))
        if pt is not None and pt[0] == r:
            return True
    return False


# Published test vectors of starknet-crypto (private key, its public key; Pedersen pairs).
TEST_PRIVATE_KEY = 2708384690123958484688745363115889726043588718997906908187752842753359350371
TEST_PUBLIC_KEY = 1673729114437878727516854592246827335452530539480870878860719335128967723895
PEDERSEN_VECTORS = [
    (0, 0, 2089986280348253421170679821480865132823066470938446095505822317253594081284),
    (1, 1, 1321142004022994845681377299801403567378503530250467610343381590909832171180),
    (132490123765801925, 19324857132905126,
     351268190682426987433778012669634681582518614860795408913953487271166523161),
]


# --- Starknet typed data (revision 0), as Paradex signs it -----------------------------------
def shortstring(text: str) -> int:
    return int.from_bytes(text.encode("ascii"), "big")


def felt(value: int | str) -> int:
    """How revision-0 typed data encodes a felt: numbers as numbers, other text as a short string."""
    if isinstance(value, int):
        return value
    if value.startswith("0x"):
        return int(value, 16)
    return int(value) if value.isdigit() else shortstring(value)


def starknet_keccak(data: bytes) -> int:
    return int.from_bytes(keccak(data), "big") & (2**250 - 1)


def hash_on_elements(items: Sequence[int]) -> int:
    h = 0
    for x in items:
        h = fast_stark_crypto.pedersen_hash(h, x)
    return fast_stark_crypto.pedersen_hash(h, len(items))


def struct_hash(name: str, fields: Sequence[tuple[str, int | str]]) -> int:
    """A struct whose members are all felts: hash(type_hash, *members)."""
    type_hash = starknet_keccak(f"{name}({','.join(f'{n}:felt' for n, _ in fields)})".encode())
    return hash_on_elements([type_hash, *(felt(v) for _, v in fields)])


def typed_message_hash(chain_id: int, address: int, primary: str, fields: Sequence[tuple[str, int | str]]) -> int:
    domain = struct_hash("StarkNetDomain", [("name", "Paradex"), ("chainId", hex(chain_id)), ("version", "1")])
    return hash_on_elements([shortstring("StarkNet Message"), domain, address, struct_hash(primary, fields)])
